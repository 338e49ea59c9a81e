/**
 * What a bubblewrap step may do beyond an ordinary process. Every step starts from no
 * capabilities at all (`--cap-drop ALL`): a step recorded as a non-root user keeps none, and one
 * recorded as root gets back only the short list below.
 *
 * Those capabilities are held in the step's own user namespace, which maps exactly one uid and one
 * gid (the step's, onto the server's user): they act only on that namespace's processes and on
 * files owned by the server's user that the step can see, i.e. the run's own tree. None of them
 * reaches the host. Left out, as the Docker backend leaves them out: MKNOD, NET_RAW, SETFCAP (a
 * file capability written by a namespace whose root is the host's root would be honoured on the
 * host), AUDIT_WRITE, SYS_CHROOT, and everything Docker never grants (SYS_ADMIN first: it could
 * remount the read-only binds).
 */

/** Capabilities of a step recorded as root, as bubblewrap names them. */
export const SANDBOX_ROOT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE'
];

/** bubblewrap's arguments for a step run as `uid`: nothing, plus the short list for root. */
export function bwrapCapabilityArgs(uid: number): string[] {
  const kept = uid === 0 ? SANDBOX_ROOT_CAPABILITIES : [];
  return ['--cap-drop', 'ALL', ...kept.flatMap(cap => ['--cap-add', cap])];
}
