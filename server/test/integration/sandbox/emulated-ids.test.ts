/**
 * Emulated identity changes (`emulated-ids.ts`, `server/helpers/identity.c`) against a hostile
 * experiment, on proot and on bubblewrap with one id: a static binary (no libc wrappers in the
 * way: raw system calls) changes user, floods the supervisor with id calls, passes bad pointers,
 * races threads, creates and chowns files; what it sees must follow Linux's rules, and the run
 * must end normally. The binary is built here with the host's C compiler and brought into the
 * drop-user package's run as its input (drop.sh), then copied (cat) and made executable by the step.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SANDBOX_CONFIGS, sandboxReady } from '../../helpers/backends';
import { example } from '../../helpers/examples';
import { runPackageInSandbox } from '../../helpers/sandbox-run';

jest.setTimeout(180_000);

const PROGRAM = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long raw_uid(void) { return syscall(SYS_getuid); }

/* Threads and a child wait here before their first notified call, until the main thread has
 * changed its ids: they must keep the ids they were created with, not take the new ones. */
static int gate[2];

static void wait_gate(void) {
  char c;
  while (read(gate[0], &c, 1) < 0 && errno == EINTR) {}
}

/* Each thread keeps its own ids (the kernel's ids are per thread): another thread's change must
 * not show, however the calls interleave. */
static void *steady(void *arg) {
  long want = (long)arg, bad = 0;
  struct stat st;
  wait_gate();
  for (int i = 0; i < 3000; i++) {
    if (raw_uid() != want) bad++;
    if (syscall(SYS_newfstatat, AT_FDCWD, "/tmp/emulated-root.txt", &st, 0) != 0) bad++;
  }
  return (void *)bad;
}

int main(void) {
  struct stat st;
  for (long i = 0; i < 200000; i++) {
    if (raw_uid() != 0) { puts("flood: wrong uid"); return 1; }
  }
  puts("flood: 200000 getuid answered");
  int fd = open("/tmp/emulated-root.txt", O_CREAT | O_WRONLY | O_TRUNC, 0600);
  close(fd);
  errno = 0;
  long r = syscall(SYS_newfstatat, AT_FDCWD, "/tmp/emulated-root.txt", (void *)8, 0);
  printf("bad buffer: %ld %s\n", r, strerror(errno));
  errno = 0;
  r = syscall(SYS_newfstatat, AT_FDCWD, (void *)8, &st, 0);
  printf("bad path: %ld %s\n", r, strerror(errno));
  errno = 0;
  r = syscall(SYS_getresuid, (void *)8, (void *)16, (void *)24);
  printf("bad getresuid: %ld %s\n", r, strerror(errno));
  pthread_t threads[4];
  if (pipe(gate) != 0) { puts("pipe failed"); return 1; }
  for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, steady, (void *)0L);
  pid_t kid = fork();
  if (kid == 0) { wait_gate(); _exit(raw_uid() == 0 ? 0 : 1); }
  /* This thread alone becomes 1000 (raw calls: glibc would change every thread). */
  printf("keepcaps: %ld\n", syscall(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0));
  printf("setresgid: %ld\n", syscall(SYS_setresgid, 1000, 1000, 1000));
  unsigned g = 1000;
  printf("setgroups: %ld\n", syscall(SYS_setgroups, 1, &g));
  printf("setresuid: %ld\n", syscall(SYS_setresuid, 1000, 1000, 1000));
  if (write(gate[1], "01234", 5) != 5) { puts("gate failed"); return 1; }
  long bad = 0;
  for (int i = 0; i < 4; i++) { void *b; pthread_join(threads[i], &b); bad += (long)b; }
  printf("threads kept their ids: %s\n", bad == 0 ? "yes" : "no");
  int kid_status = 0;
  waitpid(kid, &kid_status, 0);
  printf("child kept its ids: %s\n",
         WIFEXITED(kid_status) && WEXITSTATUS(kid_status) == 0 ? "yes" : "no");
  unsigned ru, eu, su;
  syscall(SYS_getresuid, &ru, &eu, &su);
  printf("ids: %u %u %u gid %ld groups %ld\n", ru, eu, su, syscall(SYS_getgid),
         syscall(SYS_getgroups, 0, NULL));
  errno = 0;
  r = syscall(SYS_setresuid, 0, 0, 0);
  printf("back to root: %ld %s\n", r, strerror(errno));
  fd = open("/tmp/emulated-user.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
  close(fd);
  syscall(SYS_newfstatat, AT_FDCWD, "/tmp/emulated-user.txt", &st, 0);
  printf("user's file: %u:%u\n", st.st_uid, st.st_gid);
  syscall(SYS_newfstatat, AT_FDCWD, "/tmp/emulated-root.txt", &st, 0);
  printf("root's file: %u:%u\n", st.st_uid, st.st_gid);
  errno = 0;
  r = syscall(SYS_open, "/tmp/emulated-root.txt", O_WRONLY, 0);
  printf("write root's 0600 file: %ld %s\n", r, strerror(errno));
  errno = 0;
  r = syscall(SYS_chown, "/tmp/emulated-user.txt", 0, 0);
  printf("give it to root: %ld %s\n", r, strerror(errno));
  printf("chgrp in own group: %ld\n", syscall(SYS_chown, "/tmp/emulated-user.txt", -1, 1000));
  return 0;
}
`;

const EXPECTED = [
  'flood: 200000 getuid answered',
  'bad buffer: -1 Bad address',
  'bad path: -1 Bad address',
  'bad getresuid: -1 Bad address',
  'keepcaps: 0',
  'setresgid: 0',
  'setgroups: 0',
  'setresuid: 0',
  'threads kept their ids: yes',
  'child kept its ids: yes',
  'ids: 1000 1000 1000 gid 1000 groups 1',
  'back to root: -1 Operation not permitted',
  "user's file: 1000:1000",
  "root's file: 0:0",
  "write root's 0600 file: -1 Permission denied",
  'give it to root: -1 Operation not permitted',
  'chgrp in own group: 0'
];

let binary: string;
beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'reproserver-ids-'));
  writeFileSync(join(dir, 'hostile.c'), PROGRAM);
  binary = join(dir, 'hostile');
  execFileSync('cc', [
    '-static',
    '-O',
    '-pthread',
    '-o',
    binary,
    join(dir, 'hostile.c')
  ]);
});

const EMULATED = SANDBOX_CONFIGS.filter(
  c => c.mechanism === 'proot' || c.ids === 'one'
);

describe.each(EMULATED.map(c => [c.name, c] as const))(
  'Emulated ids on %s',
  (_name, config) => {
    beforeAll(() => sandboxReady(config.mechanism));

    it('a static binary changes user, per thread, and cannot break the supervisor', async () => {
      const dropUser = example('drop-user');
      const started = Date.now();
      const run = await runPackageInSandbox(
        dropUser.rpz,
        {
          stepEdits: [
            {
              step: 0,
              argv: [
                'sh',
                '-c',
                'cat drop.sh > /tmp/hostile && chmod 755 /tmp/hostile && /tmp/hostile'
              ]
            }
          ],
          inputs: [{ name: 'arg', source: { kind: 'file', path: binary } }]
        },
        {
          mechanism: config.mechanism,
          isolation: config.isolation,
          ids: config.ids
        }
      );
      expect(run.stderr).toBe('');
      expect(run.result).toEqual({ status: 'succeeded' });
      expect(run.stdout.split('\n').filter(Boolean)).toEqual(EXPECTED);
      // 200,000 notified calls and the rest, well within a run's time.
      expect(Date.now() - started).toBeLessThan(60_000);
    });
  }
);
