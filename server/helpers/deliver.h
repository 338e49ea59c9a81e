/*
 * `rpz-exec step --deliver MAX COUNT PATH...`: once the step has ended, its declared outputs go to
 * the server on the same stdout, after the end record, instead of through the engine's archive
 * API (which Docker serves by starting a copy of itself for every file). See deliver.c.
 */
#ifndef RPZ_DELIVER_H
#define RPZ_DELIVER_H

struct delivery {
  /* 0: nothing asked. */
  int count;
  char **paths;
  /* Larger files are left to the archive API. */
  unsigned long long max_bytes;
};

/* Outputs one run may ask for at most. */
#define DELIVER_MAX_COUNT 256

/*
 * Reads "--deliver MAX COUNT PATH..." at argv[*at] when it is there, and moves *at past it.
 * 0 when read or absent (delivery->count is then 0), -1 when malformed.
 */
int deliver_parse(int argc, char **argv, int *at, struct delivery *delivery);

/* Writes the records of every asked path to `fd`, blocking, then OUTPUTS_DONE. */
void deliver_outputs(int fd, const struct delivery *delivery);

#endif
