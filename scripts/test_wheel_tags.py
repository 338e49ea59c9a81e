"""Unit tests of scripts/wheel_tags.py (run by scripts/release-check.sh: .venv/bin/pytest).

ELF files are crafted here byte by byte (any machine, any needs), and the reader is also compared
with binutils' readelf on a real system binary.
"""

import re
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

import wheel_tags

ROOT = Path(__file__).resolve().parent.parent

EM = {"x86_64": 62, "aarch64": 183}


def craft_elf(machine="x86_64", needed=(), versions=()):
    """A minimal little-endian ELF64 shared object: DT_NEEDED libraries and GLIBC version needs
    (none of either: a static executable)."""
    dynamic = bool(needed)
    strings = b"\0"
    offsets = {}
    for name in [*needed, *versions]:
        offsets[name] = len(strings)
        strings += name.encode() + b"\0"
    phnum = 2 if dynamic else 1
    dynstr_at = 64 + 56 * phnum
    dyn_at = (dynstr_at + len(strings) + 7) // 8 * 8
    entries = [(1, offsets[n]) for n in needed] + [(5, dynstr_at), (0, 0)] if dynamic else []
    verneed_at = dyn_at + 16 * len(entries)
    verneed = b""
    if versions:
        verneed = struct.pack("<HHIII", 1, len(versions), offsets[needed[0]], 16, 0)
        for i, name in enumerate(versions):
            last = i == len(versions) - 1
            verneed += struct.pack("<IHHII", 0, 0, i + 2, offsets[name], 0 if last else 16)
    shoff = (verneed_at + len(verneed) + 7) // 8 * 8
    sections = [struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    if dynamic:
        sections.append(
            struct.pack("<IIQQQQIIQQ", 0, 3, 0, dynstr_at, dynstr_at, len(strings), 0, 0, 1, 0)
        )
        if versions:
            sections.append(
                struct.pack(
                    "<IIQQQQIIQQ",
                    0,
                    0x6FFFFFFE,
                    0,
                    verneed_at,
                    verneed_at,
                    len(verneed),
                    1,
                    1,
                    4,
                    0,
                )
            )
    size = shoff + 64 * len(sections)
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header += struct.pack(
        "<HHIQQQIHHHHHH",
        3 if dynamic else 2,
        EM[machine],
        1,
        0,
        64,
        shoff,
        0,
        64,
        56,
        phnum,
        64,
        len(sections),
        0,
    )
    phdrs = struct.pack("<IIQQQQQQ", 1, 5, 0, 0, 0, size, size, 0x1000)
    if dynamic:
        phdrs += struct.pack(
            "<IIQQQQQQ", 2, 6, dyn_at, dyn_at, dyn_at, 16 * len(entries), 16 * len(entries), 8
        )
    data = bytearray(size)
    data[0:64] = header
    data[64 : 64 + len(phdrs)] = phdrs
    data[dynstr_at : dynstr_at + len(strings)] = strings
    for i, (tag, value) in enumerate(entries):
        data[dyn_at + 16 * i : dyn_at + 16 * (i + 1)] = struct.pack("<qQ", tag, value)
    data[verneed_at : verneed_at + len(verneed)] = verneed
    for i, section in enumerate(sections):
        data[shoff + 64 * i : shoff + 64 * (i + 1)] = section
    return bytes(data)


def module(
    machine="x86_64", glibc=("GLIBC_2.2.5", "GLIBC_2.28"), needed=("libc.so.6", "libstdc++.so.6")
):
    return craft_elf(machine, needed, glibc)


def test_reads_a_crafted_dynamic_module():
    facts = wheel_tags.read_elf(module(glibc=("GLIBC_2.14", "GLIBC_2.28", "GLIBC_2.3")), "m.node")
    assert facts.arch == "x86_64"
    assert not facts.static
    assert facts.needed == ["libc.so.6", "libstdc++.so.6"]
    assert facts.glibc == (2, 28)
    assert facts.foreign_libraries == []


def test_reads_a_crafted_static_executable_of_another_machine():
    facts = wheel_tags.read_elf(craft_elf("aarch64"), "rpz-exec")
    assert (facts.arch, facts.static, facts.glibc) == ("aarch64", True, None)


def test_refuses_what_is_not_elf():
    with pytest.raises(wheel_tags.NotElf):
        wheel_tags.read_elf(b"#!/bin/sh\necho hello\n" + bytes(64), "script")


def test_the_tag_follows_the_newest_glibc_and_the_machine():
    x86 = [wheel_tags.read_elf(module(), "a"), wheel_tags.read_elf(craft_elf(), "b")]
    assert wheel_tags.tag_for(x86) == "manylinux_2_28_x86_64"
    old = [wheel_tags.read_elf(module(glibc=("GLIBC_2.2.5",)), "a")]
    assert wheel_tags.tag_for(old) == "manylinux_2_17_x86_64"  # the oldest still built for
    assert (
        wheel_tags.tag_for([wheel_tags.read_elf(craft_elf("aarch64"), "s")])
        == "manylinux_2_17_aarch64"
    )
    assert wheel_tags.tag_for([]) == "any"


def test_problems_with_a_claimed_tag():
    facts = [wheel_tags.read_elf(module(glibc=("GLIBC_2.34",)), "m.node")]
    assert wheel_tags.problems(facts, ["manylinux_2_34_x86_64"]) == []
    assert wheel_tags.problems(facts, ["manylinux_2_35_x86_64"]) == []
    [bare] = wheel_tags.problems(facts, ["linux_x86_64"])
    assert "PyPI refuses bare linux_* tags" in bare and "manylinux_2_34_x86_64" in bare
    [too_old] = wheel_tags.problems(facts, ["manylinux2014_x86_64"])
    assert "claims glibc 2.17 but a file needs 2.34" in too_old
    [arch] = wheel_tags.problems(facts, ["manylinux_2_34_aarch64"])
    assert "is for aarch64 but the ELF files are x86_64" in arch
    [pure] = wheel_tags.problems(facts, ["any"])
    assert "tagged 'any' but carries ELF files" in pure
    assert wheel_tags.problems([], ["any"]) == []


def test_libraries_outside_manylinux_and_mixed_machines_are_problems():
    foreign = [wheel_tags.read_elf(module(needed=("libc.so.6", "libsqlite3.so.0")), "m.node")]
    [problem] = wheel_tags.problems(foreign, ["manylinux_2_28_x86_64"])
    assert "libsqlite3.so.0" in problem
    mixed = [
        wheel_tags.read_elf(craft_elf("x86_64"), "a"),
        wheel_tags.read_elf(craft_elf("aarch64"), "b"),
    ]
    assert any(
        "several machines" in p for p in wheel_tags.problems(mixed, ["manylinux_2_17_x86_64"])
    )


def test_checks_a_wheel_file(tmp_path, capsys):
    def wheel(name, tag):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("pkg/native.node", module(glibc=("GLIBC_2.31",)))
            archive.writestr("pkg/__init__.py", "")
            archive.writestr("pkg-1.0.dist-info/WHEEL", f"Wheel-Version: 1.0\nTag: {tag}\n")
        return path

    good = wheel("pkg-1.0-py3-none-manylinux_2_31_x86_64.whl", "py3-none-manylinux_2_31_x86_64")
    assert wheel_tags.check_wheel(good) == 0
    assert (
        "pkg/native.node: x86_64, dynamic, needs libc.so.6, libstdc++.so.6; GLIBC 2.31"
        in capsys.readouterr().out
    )
    assert (
        wheel_tags.check_wheel(wheel("pkg-1.0-py3-none-linux_x86_64.whl", "py3-none-linux_x86_64"))
        == 1
    )
    # The name and the WHEEL file must say the same.
    assert (
        wheel_tags.check_wheel(
            wheel("pkg-1.0-py3-none-manylinux_2_34_x86_64.whl", "py3-none-linux_x86_64")
        )
        == 1
    )


def test_agrees_with_readelf_on_a_system_binary():
    binary = shutil.which("true")
    versions = subprocess.run(["readelf", "-V", binary], capture_output=True, text=True).stdout
    needed = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True).stdout
    with open(binary, "rb") as handle:
        facts = wheel_tags.read_elf(handle.read(), binary)
    newest = max(
        tuple(int(n) for n in v.split(".")[:2]) for v in re.findall(r"GLIBC_(\d+\.\d+)", versions)
    )
    assert facts.glibc == newest
    assert facts.needed == re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", needed)


# ---- aarch64 (the wheel built with REPROSERVER_WHEEL_ARCH=aarch64) -----------------------------


def test_the_machine_field_names_the_architecture():
    # e_machine at offset 18: EM_X86_64 (62), EM_AARCH64 (183); others are named by number.
    aarch64 = craft_elf("aarch64")
    assert struct.unpack_from("<H", aarch64, 18)[0] == 183
    assert wheel_tags.read_elf(aarch64, "a").arch == "aarch64"
    riscv_like = bytearray(aarch64)
    struct.pack_into("<H", riscv_like, 18, 9999)
    assert wheel_tags.read_elf(bytes(riscv_like), "r").arch == "machine-9999"


def test_the_tag_refuses_files_of_another_machine_than_the_wheel_is_for():
    aarch64 = [wheel_tags.read_elf(craft_elf("aarch64"), "helpers/rpz-exec")]
    assert wheel_tags.tag_for(aarch64, "aarch64") == "manylinux_2_17_aarch64"
    with pytest.raises(ValueError, match="for x86_64 but its ELF files are aarch64: helpers/rpz"):
        wheel_tags.tag_for(aarch64, "x86_64")
    x86 = [wheel_tags.read_elf(craft_elf("x86_64"), "helpers/rpz-exec")]
    with pytest.raises(ValueError, match="for aarch64 but its ELF files are x86_64"):
        wheel_tags.tag_for(x86, "aarch64")
    assert wheel_tags.tag_for([], "aarch64") == "any"


def test_the_real_cross_compiled_helper_agrees_with_readelf():
    """server/helpers/build.sh aarch64: Debian's cross compiler (scripts/setup.sh installs it)."""
    subprocess.run(["sh", str(ROOT / "server" / "helpers" / "build.sh"), "aarch64"], check=True)
    helper = ROOT / "server" / "dist" / "helpers" / "aarch64" / "rpz-exec"
    facts = wheel_tags.read_elf(helper.read_bytes(), "rpz-exec")
    header = subprocess.run(["readelf", "-h", str(helper)], capture_output=True, text=True).stdout
    dynamic = subprocess.run(["readelf", "-d", str(helper)], capture_output=True, text=True).stdout
    assert re.search(r"Machine:\s+AArch64", header)
    assert "There is no dynamic section" in dynamic
    assert (facts.arch, facts.static) == ("aarch64", True)
    assert wheel_tags.tag_for([facts], "aarch64") == "manylinux_2_17_aarch64"


def two_wheels(tmp_path, change=None):
    """Wheels for x86_64 and aarch64 with the same files but the helper; CHANGE edits the
    aarch64 wheel's {name: (bytes, mode)}."""
    paths = []
    for arch in ("x86_64", "aarch64"):
        tag = f"py3-none-manylinux_2_17_{arch}"
        files = {
            "pkg/helpers/rpz-exec": (craft_elf(arch), 0o755),
            "pkg/__init__.py": (b"", 0o644),
            "pkg-1.0.dist-info/WHEEL": (f"Wheel-Version: 1.0\nTag: {tag}\n".encode(), 0o644),
            "pkg-1.0.dist-info/RECORD": (arch.encode(), 0o644),
        }
        if arch == "aarch64" and change:
            change(files)
        path = tmp_path / f"pkg-1.0-{tag}.whl"
        with zipfile.ZipFile(path, "w") as archive:
            for name, (data, mode) in files.items():
                info = zipfile.ZipInfo(name)
                info.external_attr = (0o100000 | mode) << 16
                archive.writestr(info, data)
        paths.append(path)
    return paths


def test_two_machines_wheels_differ_only_in_their_elf_files(tmp_path):
    x86, arm = two_wheels(tmp_path)
    assert wheel_tags.differences_between(x86, arm) == []
    assert wheel_tags.check_wheel(x86) == 0 and wheel_tags.check_wheel(arm) == 0


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda f: f.update({"pkg/extra.py": (b"", 0o644)}), "only in pkg-1.0-py3-none-manylinux"),
        (lambda f: f.update({"pkg/__init__.py": (b"x = 1\n", 0o644)}), "pkg/__init__.py differs"),
        (lambda f: f.update({"pkg/__init__.py": (b"", 0o755)}), "pkg/__init__.py: mode 100644"),
        (
            lambda f: f.update({"pkg/helpers/rpz-exec": (b"#!/bin/sh\n", 0o755)}),
            "is an ELF file in one wheel only",
        ),
    ],
    ids=["extra file", "other bytes", "other mode", "not ELF"],
)
def test_two_machines_wheels_with_other_differences(tmp_path, change, expected):
    x86, arm = two_wheels(tmp_path, change)
    [problem] = wheel_tags.differences_between(x86, arm)
    assert expected in problem


def test_an_aarch64_wheel_holding_an_x86_64_helper_is_refused(tmp_path, capsys):
    def swap(files):
        files["pkg/helpers/rpz-exec"] = (craft_elf("x86_64"), 0o755)

    _, arm = two_wheels(tmp_path, swap)
    assert wheel_tags.check_wheel(arm) == 1
    assert "is for aarch64 but the ELF files are x86_64" in capsys.readouterr().out
