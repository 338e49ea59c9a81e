/**
 * The package read behind `reproserver inspect`: the server's reader, in this process, refused
 * past the server's deadline for a package of this size. Loaded only when a package is read (a
 * remembered one needs none of it).
 */
import { basename } from 'node:path';
import { loadConfig } from '../config';
import type { PackageModel } from '../rpz/model';
import { readPackage } from '../rpz/package';
import { readDeadline, readTimeoutError } from '../rpz/worker/deadline';

/**
 * `readPackage`, refused with `read-timeout` past the server's deadline for a package of
 * `sizeBytes` (the caller has checked that it is a regular file).
 */
export async function readWithDeadline(
  path: string,
  sizeBytes: number
): Promise<PackageModel> {
  const config = loadConfig({});
  const label = basename(path);
  const deadline = readDeadline(config.readTimeoutSeconds * 1000, sizeBytes);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          readTimeoutError(
            deadline,
            'the read timeout, REPROSERVER_READ_TIMEOUT_SECONDS',
            label
          )
        ),
      deadline.ms
    );
  });
  try {
    return await Promise.race([readPackage(path), late]);
  } finally {
    clearTimeout(timer);
  }
}
