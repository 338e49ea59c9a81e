"""The aarch64 static helper (rpz-exec, cross-compiled), run under qemu-user on this machine.

Run by scripts/release-check.sh (.venv/bin/pytest) on the helper the aarch64 wheel carries
(RPZ_EXEC_UNDER_TEST, taken out of the wheel); alone, on server/helpers/build.sh aarch64's.
qemu-aarch64 (Debian's qemu-user, which scripts/setup.sh installs) runs the helper's own code as
aarch64 and passes its system calls to this kernel; a program the helper executes (execve) is
this machine's, run natively. So each subcommand the servers use is exercised as on an aarch64
machine, with the same checks as the x86_64 helper's tests (server/test/unit/docker/
rpz-exec-step.test.ts and the sandbox's): the usage answer, the exact environment and argv of
`run`, exit codes, `as` and `step` with another uid:gid, `follow`, `ids-check`.

What qemu-user cannot give is confinement: it refuses PR_SET_SECCOMP (EINVAL; a filter would
bind qemu's own system calls, made for the emulated program) and does not know Landlock's system
calls (landlock_create_ruleset, 444: "Unknown syscall", ENOSYS, so the helper sees a kernel
without Landlock). The helper must then refuse to run anything, never run it unconfined: that is
asserted here. Identity emulation (seccomp user notification) is built for x86_64 only: on
aarch64 the helper says so, and the server's probe finds it missing.
"""

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import wheel_tags

ROOT = Path(__file__).resolve().parent.parent
QEMU = shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="changes uid:gid: needs root")


@pytest.fixture(scope="module")
def helper() -> Path:
    assert QEMU, "qemu-aarch64 is missing: scripts/setup.sh installs Debian's qemu-user"
    given = os.environ.get("RPZ_EXEC_UNDER_TEST")
    if given:
        return Path(given)
    subprocess.run(["sh", str(ROOT / "server" / "helpers" / "build.sh"), "aarch64"], check=True)
    return ROOT / "server" / "dist" / "helpers" / "aarch64" / "rpz-exec"


def rpz_exec(helper, *args, strace=False, **options):
    command = [QEMU, *(["-strace"] if strace else []), str(helper), *map(str, args)]
    return subprocess.run(command, capture_output=True, timeout=60, **options)


def records(stream: bytes):
    """The records of `step`'s and `follow`'s output: kind (1 byte), length (4, big-endian)."""
    found, at = [], 0
    while at < len(stream):
        kind, size = stream[at], struct.unpack_from(">I", stream, at + 1)[0]
        found.append((kind, stream[at + 5 : at + 5 + size]))
        at += 5 + size
    assert at == len(stream), "a truncated record"
    return found


def test_it_is_the_static_aarch64_program_the_wheel_is_tagged_for(helper):
    facts = wheel_tags.read_elf(helper.read_bytes(), "rpz-exec")
    assert (facts.arch, facts.static) == ("aarch64", True)
    assert wheel_tags.tag_for([facts], "aarch64") == "manylinux_2_17_aarch64"
    with pytest.raises(ValueError, match="for x86_64 but its ELF files are aarch64"):
        wheel_tags.tag_for([facts], "x86_64")


def test_answers_usage_to_what_it_does_not_know(helper):
    for args in [(), ("--version",), ("run",), ("step", "/tmp")]:
        result = rpz_exec(helper, *args)
        assert result.returncode == 127, args
        assert result.stderr.startswith(b"usage: rpz-exec --idle"), args


def test_run_gives_exactly_the_recorded_environment_and_argv(helper):
    env = rpz_exec(helper, "run", "/usr/bin/env", 2, "ONLY=this", "SPACED=a b", "--", "env")
    assert (env.returncode, env.stdout) == (0, b"ONLY=this\nSPACED=a b\n")
    # argv[0] as recorded, not the program's path.
    argv = rpz_exec(helper, "run", "/bin/cat", 0, "--", "recorded-name", "/proc/self/cmdline")
    assert argv.stdout == b"recorded-name\0/proc/self/cmdline\0"


def test_run_passes_exit_codes_and_searches_path_for_dash(helper):
    code = rpz_exec(helper, "run", "-", 1, "PATH=/usr/bin:/bin", "--", "sh", "-c", "exit 3")
    assert code.returncode == 3
    missing = rpz_exec(helper, "run", "/nonexistent/program", 0, "--", "program")
    assert missing.returncode == 127
    assert b"rpz-exec: cannot execute /nonexistent/program: No such file" in missing.stderr
    unfound = rpz_exec(helper, "run", "-", 1, "PATH=/nonexistent", "--", "sh")
    assert unfound.returncode == 127


def test_oom_kills_prints_a_count(helper):
    result = rpz_exec(helper, "oom-kills")
    assert result.returncode == 0
    assert int(result.stdout) >= -1


@as_root
def test_as_becomes_the_given_user_and_group(helper):
    result = rpz_exec(helper, "as", 4242, 4243, "run", "/usr/bin/id", 0, "--", "id")
    assert (result.returncode, result.stdout) == (0, b"uid=4242 gid=4243 groups=4243\n")


@as_root
def test_ids_check_changes_ids_by_raw_system_calls(helper):
    result = rpz_exec(helper, "ids-check")
    assert (result.returncode, result.stdout) == (0, b"ids-check ok\n")


def by_stream(frames):
    joined = {}
    for kind, data in frames:
        joined[kind] = joined.get(kind, b"") + data
    return joined


@pytest.mark.parametrize("user", [None, 4242], ids=["own ids", "another user"])
def test_step_logs_frames_and_follow_reads_them_back(helper, tmp_path, user):
    # The release check runs as root (scripts/setup.sh needs it): the other user's case is real.
    assert user is None or os.geteuid() == 0, "running a step as another user needs root"
    uid = user if user is not None else os.getuid()
    gid = user if user is not None else os.getgid()
    steps = tmp_path / "steps"
    script = "echo out; echo err >&2; id -u; exit 5"
    args = ["step", steps, 0, 1000, uid, gid, "/bin/sh", 1, "ONLY=this", "--", "sh", "-c", script]
    first = rpz_exec(helper, *args)
    assert first.returncode == 5
    said = records(first.stdout)
    assert (said[0], said[-1]) == ((7, b""), (3, b"5\n"))  # started ... end, exit code 5
    # stdout and stderr are two pipes: their frames interleave as they come.
    assert by_stream(said[1:-1]) == {1: f"out\n{uid}\n".encode(), 2: b"err\n"}
    assert (steps / "0.exit").read_text() == "5\n"
    assert oct((steps / "0.log").stat().st_mode & 0o777) == "0o600"
    # Never twice: the step is claimed by its .started file.
    again = rpz_exec(helper, *args)
    assert records(again.stdout) == [(8, b"")]
    followed = records(rpz_exec(helper, "follow", steps, 0, 0).stdout)
    assert followed == [*said[1:-1], (3, b"5\n")]  # the same frames, in the order logged
    assert records(rpz_exec(helper, "follow", steps, 1, 0).stdout)[0][0] == 5  # not started


def test_refuses_to_run_anything_when_qemu_cannot_confine_it(helper, tmp_path):
    marker = tmp_path / "ran"
    result = rpz_exec(
        helper,
        "run",
        "--confine",
        "--read",
        "/",
        "--write",
        tmp_path,
        "/bin/sh",
        0,
        "--",
        "sh",
        "-c",
        f"touch {marker}",
        strace=True,
    )
    assert result.returncode == 127
    assert not marker.exists(), "the program ran unconfined"
    trace = result.stderr.decode()
    # What qemu-user does: Landlock unknown (the helper goes on without it, as on a kernel
    # without Landlock), no-new-privileges passed to the kernel, seccomp refused.
    assert "Unknown syscall 444" in trace  # landlock_create_ruleset
    assert re.search(r"prctl\(38,1,0,0,0,\d+\) = 0\n", trace)  # PR_SET_NO_NEW_PRIVS
    seccomp = r"prctl\(22,2,\d+,0,0,\d+\) = -1 errno=22 \(Invalid argument\)"  # PR_SET_SECCOMP
    assert re.search(seccomp, trace)
    assert "rpz-exec: confinement: seccomp: Invalid argument" in trace
    assert "execve(" not in trace


def test_the_confinement_probe_reports_nothing_when_it_cannot_confine(helper):
    result = rpz_exec(helper, "confine-probe", "--confine", "--read", "/", "--try-tcp", 9)
    assert result.returncode == 127
    assert result.stdout == b""
    assert result.stderr == b"rpz-exec: confinement: seccomp: Invalid argument\n"
    # Without --confine it reports plainly that nothing holds.
    plain = rpz_exec(helper, "confine-probe")
    assert (plain.returncode, plain.stdout.splitlines()[:2]) == (0, [b"landlock 0", b"seccomp off"])


def test_identity_emulation_says_it_is_not_built_for_aarch64(helper):
    left, right = os.pipe()
    try:
        run = rpz_exec(
            helper, "run", "--ids-socket", right, "/bin/true", 0, "--", "true", pass_fds=[right]
        )
    finally:
        os.close(left)
        os.close(right)
    assert run.returncode == 127
    assert run.stderr == b"rpz-exec: identity emulation is not built for this architecture\n"
    supervise = rpz_exec(helper, "emulate-ids", 0, 0, 0, 0, 0, "-", 2, "--", "/bin/true")
    assert supervise.returncode == 125
    assert b"not built for this architecture" in supervise.stderr
