"""The platform tag a wheel should have, from the ELF files it carries (an auditwheel-style check).

Written once, used twice: hatch_build.py tags the wheel it builds with ``tag_for(facts)`` so the
tag follows the content, and the release check (scripts/release-check.sh) runs

    python3 scripts/wheel_tags.py check WHEEL     # report every ELF file; fail on a wrong tag
    python3 scripts/wheel_tags.py tag DIR [ARCH]  # the tag the ELF files under DIR call for
                                                  # (refused if they are not ARCH's)
    python3 scripts/wheel_tags.py same-files A B  # two machines' wheels: the same files but
                                                  # the ELF ones (and WHEEL, RECORD)

For each ELF file: its machine (e_machine: EM_X86_64 62 -> x86_64, EM_AARCH64 183 -> aarch64;
which must be the tag's architecture, and the one the wheel is built for), whether it is static (no
DT_NEEDED library: nothing to ask of the system), and for dynamic ones the libraries it needs
(only those every manylinux system has) and the highest GLIBC_x.y symbol version it needs. The
wheel's tag is then ``manylinux_2_Y_<arch>`` with Y that glibc minor (at least 17, manylinux2014,
the oldest still built for), or ``any`` when it carries no ELF file. Versions of other libraries
(GLIBCXX_, CXXABI_, GCC_) are reported but not mapped to policies: what auditwheel's policy
tables would add is that libstdc++ be no newer than the chosen glibc's toolchain, which holds for
a module built on a system of that glibc.

Standard library only (the build hook runs in hatch's isolated build environment).
"""

import re
import struct
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

ELF_MAGIC = b"\x7fELF"
# e_machine values (elf.h) and the names wheel tags give those machines.
MACHINES = {3: "i686", 40: "armv7l", 62: "x86_64", 183: "aarch64", 243: "riscv64", 22: "s390x"}
EM_PPC64 = 21
PT_DYNAMIC = 2
SHT_GNU_VERNEED = 0x6FFFFFFE
DT_NEEDED = 1
DT_STRTAB = 5
# The libraries a manylinux system provides (PEP 600 defers to auditwheel's policies; these are
# in all of manylinux_2_17 and later), and the dynamic loader itself.
SYSTEM_LIBRARIES = {
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "librt.so.1",
    "libpthread.so.0",
    "libresolv.so.2",
    "libutil.so.1",
    "libnsl.so.1",
    "libgcc_s.so.1",
    "libstdc++.so.6",
}
LOADER = re.compile(r"^(ld-linux[-\w.]*\.so\.\d+|ld64\.so\.\d+)$")
OLDEST_GLIBC = (2, 17)
LEGACY_TAGS = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


class NotElf(ValueError):
    pass


@dataclass
class ElfFacts:
    """What the tag depends on, for one ELF file."""

    path: str
    arch: str
    needed: List[str] = field(default_factory=list)  # DT_NEEDED libraries
    versions: List[str] = field(default_factory=list)  # versioned symbols needed (GLIBC_2.14, ...)

    @property
    def static(self) -> bool:
        return not self.needed

    @property
    def glibc(self) -> Optional[Tuple[int, int]]:
        """The highest GLIBC_x.y this file needs, or None."""
        found = [_glibc_version(v) for v in self.versions]
        found = [v for v in found if v]
        return max(found) if found else None

    @property
    def foreign_libraries(self) -> List[str]:
        return [n for n in self.needed if n not in SYSTEM_LIBRARIES and not LOADER.match(n)]

    def describe(self) -> str:
        if self.static:
            return f"{self.path}: {self.arch}, static"
        glibc = self.glibc
        others = sorted({v for v in self.versions if not v.startswith("GLIBC_")}, key=_version_key)
        newest_other = {}
        for name in others:
            newest_other[name.split("_")[0]] = name
        return (
            f"{self.path}: {self.arch}, dynamic, needs {', '.join(self.needed)}; "
            f"GLIBC {'%d.%d' % glibc if glibc else 'none'}"
            + (f"; newest of others: {', '.join(newest_other.values())}" if newest_other else "")
        )


def _glibc_version(name: str) -> Optional[Tuple[int, int]]:
    match = re.fullmatch(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?", name)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _version_key(name: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"[._]", name)]


def read_elf(data: bytes, path: str = "") -> ElfFacts:
    """The facts of one ELF file's bytes (raises NotElf for anything else)."""
    if data[:4] != ELF_MAGIC or len(data) < 64:
        raise NotElf(path)
    is64 = data[4] == 2
    endian = "<" if data[5] == 1 else ">"
    machine = struct.unpack_from(endian + "H", data, 18)[0]
    if machine == EM_PPC64:
        arch = "ppc64le" if endian == "<" else "ppc64"
    else:
        arch = MACHINES.get(machine, f"machine-{machine}")
    if is64:
        phoff, shoff = struct.unpack_from(endian + "QQ", data, 32)
        phentsize, phnum, shentsize, shnum = struct.unpack_from(endian + "HHHH", data, 54)
    else:
        phoff, shoff = struct.unpack_from(endian + "II", data, 28)
        phentsize, phnum, shentsize, shnum = struct.unpack_from(endian + "HHHH", data, 42)
    facts = ElfFacts(path=path, arch=arch)

    sections = [_section(data, endian, is64, shoff + i * shentsize) for i in range(shnum)]
    dynamic = _dynamic_entries(data, endian, is64, phoff, phentsize, phnum)
    if dynamic:
        strtab = _file_offset(
            data, endian, is64, phoff, phentsize, phnum, dynamic.get(DT_STRTAB, [0])[0]
        )
        for offset in dynamic.get(DT_NEEDED, []):
            facts.needed.append(_string(data, strtab + offset))
    for kind, offset, size, link in sections:
        if kind != SHT_GNU_VERNEED:
            continue
        strings = sections[link][1]
        facts.versions.extend(_version_needs(data, endian, offset, strings))
    return facts


def _section(data, endian, is64, at) -> Tuple[int, int, int, int]:
    """(type, offset, size, link) of the section header at AT."""
    if is64:
        _, kind, _, _, offset, size, link = struct.unpack_from(endian + "IIQQQQI", data, at)
    else:
        _, kind, _, _, offset, size, link = struct.unpack_from(endian + "IIIIIII", data, at)
    return kind, offset, size, link


def _program_headers(data, endian, is64, phoff, phentsize, phnum):
    """(type, offset, vaddr, filesz) of each program header."""
    for i in range(phnum):
        at = phoff + i * phentsize
        if is64:
            kind, _, offset, vaddr, _, filesz = struct.unpack_from(endian + "IIQQQQ", data, at)
        else:
            kind, offset, vaddr, _, filesz = struct.unpack_from(endian + "IIIII", data, at)
        yield kind, offset, vaddr, filesz


def _dynamic_entries(data, endian, is64, phoff, phentsize, phnum) -> Dict[int, List[int]]:
    entries: Dict[int, List[int]] = {}
    for kind, offset, _, size in _program_headers(data, endian, is64, phoff, phentsize, phnum):
        if kind != PT_DYNAMIC:
            continue
        step, form = (16, endian + "qQ") if is64 else (8, endian + "iI")
        for at in range(offset, offset + size, step):
            tag, value = struct.unpack_from(form, data, at)
            if tag == 0:
                break
            entries.setdefault(tag, []).append(value)
    return entries


def _file_offset(data, endian, is64, phoff, phentsize, phnum, address) -> int:
    """The file offset of a virtual ADDRESS (dynamic entries hold addresses), via PT_LOAD."""
    for kind, offset, vaddr, size in _program_headers(data, endian, is64, phoff, phentsize, phnum):
        if kind == 1 and vaddr <= address < vaddr + size:
            return address - vaddr + offset
    return address


def _string(data: bytes, at: int) -> str:
    return data[at : data.index(b"\0", at)].decode("utf-8", "replace")


def _version_needs(data, endian, offset, strings) -> Iterable[str]:
    """The names of the version needs (Elf_Verneed / Elf_Vernaux chains) at OFFSET."""
    at = offset
    while True:
        _, count, _, aux, following = struct.unpack_from(endian + "HHIII", data, at)
        aux_at = at + aux
        for _ in range(count):
            _, _, _, name, aux_next = struct.unpack_from(endian + "IHHII", data, aux_at)
            yield _string(data, strings + name)
            aux_at += aux_next
        if not following:
            return
        at += following


# ---- tags ------------------------------------------------------------------------------------


def tag_for(facts: List[ElfFacts], arch: Optional[str] = None) -> str:
    """The platform tag for a wheel holding these ELF files ('any' for none). With ARCH (the
    machine the wheel is built for: REPROSERVER_WHEEL_ARCH), files of another machine are refused
    rather than followed: a wheel for aarch64 holding an x86_64 helper is a build gone wrong."""
    if not facts:
        return "any"
    arches = sorted({f.arch for f in facts})
    if len(arches) != 1:
        raise ValueError(f"ELF files of several machines in one wheel: {', '.join(arches)}")
    if arch is not None and arches[0] != arch:
        files = ", ".join(f.path for f in facts)
        raise ValueError(f"the wheel is for {arch} but its ELF files are {arches[0]}: {files}")
    glibc = max([f.glibc for f in facts if f.glibc] + [OLDEST_GLIBC])
    return f"manylinux_{glibc[0]}_{glibc[1]}_{arches[0]}"


def problems(facts: List[ElfFacts], platform_tags: List[str]) -> List[str]:
    """What is wrong with claiming PLATFORM_TAGS (a wheel name's platform part) for FACTS."""
    found = []
    for elf in facts:
        if elf.foreign_libraries:
            libraries = ", ".join(elf.foreign_libraries)
            found.append(f"{elf.path} needs libraries no manylinux system has: {libraries}")
    try:
        wanted = tag_for(facts)
    except ValueError as error:
        return found + [str(error)]
    for platform in platform_tags:
        if platform == "any":
            if facts:
                found.append(f"tagged 'any' but carries ELF files: it should be {wanted}")
            continue
        claimed = _parse_platform(platform)
        if claimed is None:
            found.append(
                f"'{platform}' is not a manylinux tag (PyPI refuses bare linux_* tags): "
                f"it should be {wanted}"
            )
            continue
        glibc, arch = claimed
        if not facts:
            found.append(f"tagged '{platform}' but carries no ELF file: it should be 'any'")
            continue
        needed_arch = facts[0].arch
        if arch != needed_arch:
            found.append(f"'{platform}' is for {arch} but the ELF files are {needed_arch}")
        needed = max([f.glibc for f in facts if f.glibc] + [(0, 0)])
        if glibc < needed:
            found.append(
                f"'{platform}' claims glibc {glibc[0]}.{glibc[1]} but a file needs "
                f"{needed[0]}.{needed[1]}: it should be {wanted}"
            )
    return found


def _parse_platform(platform: str) -> Optional[Tuple[Tuple[int, int], str]]:
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", platform)
    if match:
        return (int(match.group(1)), int(match.group(2))), match.group(3)
    match = re.fullmatch(r"(manylinux\d+)_(\w+)", platform)
    if match and match.group(1) in LEGACY_TAGS:
        return LEGACY_TAGS[match.group(1)], match.group(2)
    return None


def elf_files_in_dir(root: Path) -> List[ElfFacts]:
    facts = []
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file() and not p.is_symlink()):
        with open(path, "rb") as handle:
            if handle.read(4) != ELF_MAGIC:
                continue
        facts.append(read_elf(path.read_bytes(), str(path.relative_to(root))))
    return facts


def elf_files_in_wheel(wheel: Path) -> List[ElfFacts]:
    facts = []
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            with archive.open(info) as handle:
                if handle.read(4) != ELF_MAGIC:
                    continue
            facts.append(read_elf(archive.read(info), info.filename))
    return facts


def wheel_platforms(wheel: Path) -> List[str]:
    """The platform tags in a wheel's file name (name-version[-build]-python-abi-platform.whl)."""
    return Path(wheel).name[: -len(".whl")].split("-")[-1].split(".")


def check_wheel(wheel: Path) -> int:
    facts = elf_files_in_wheel(wheel)
    print(f"{Path(wheel).name}: {len(facts)} ELF file(s)")
    for elf in facts:
        print(f"  {elf.describe()}")
    try:
        print(f"  tag it should have: {tag_for(facts)}")
    except ValueError as error:
        print(f"  {error}")
    found = problems(facts, wheel_platforms(wheel))
    found += _wheel_file_disagreements(wheel)
    for problem in found:
        print(f"  WRONG: {problem}")
    return 1 if found else 0


def _wheel_file_disagreements(wheel: Path) -> List[str]:
    """The tags in the name must be those the .dist-info/WHEEL file declares."""
    name_parts = Path(wheel).name[: -len(".whl")].split("-")
    pythons, abis, platforms = (part.split(".") for part in name_parts[-3:])
    expected = {f"{p}-{a}-{pl}" for p in pythons for a in abis for pl in platforms}
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if re.fullmatch(r"[^/]+\.dist-info/WHEEL", n))
        declared = set(re.findall(r"^Tag: (\S+)$", archive.read(metadata).decode(), re.M))
    if declared != expected:
        return [f"{metadata} declares {sorted(declared)} but the file name says {sorted(expected)}"]
    return []


def differences_between(first: Path, second: Path) -> List[str]:
    """How two wheels of one release for two machines differ, beyond what should: the same paths,
    the same bytes and modes (CRC-32), except the ELF files (each machine's build) and the
    .dist-info's WHEEL and RECORD (the tag; the ELF files' hashes)."""

    def entries(wheel: Path) -> Dict[str, Tuple[int, int, bool]]:
        found = {}
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                if re.fullmatch(r"[^/]+\.dist-info/(WHEEL|RECORD)", info.filename):
                    continue
                with archive.open(info) as handle:
                    elf = handle.read(4) == ELF_MAGIC
                found[info.filename] = (info.CRC, info.external_attr >> 16, elf)
        return found

    a, b = entries(first), entries(second)
    found = [f"only in {Path(first).name}: {name}" for name in sorted(a.keys() - b.keys())]
    found += [f"only in {Path(second).name}: {name}" for name in sorted(b.keys() - a.keys())]
    for name in sorted(a.keys() & b.keys()):
        (crc_a, mode_a, elf_a), (crc_b, mode_b, elf_b) = a[name], b[name]
        if elf_a != elf_b:
            found.append(f"{name} is an ELF file in one wheel only")
        elif mode_a != mode_b:
            found.append(f"{name}: mode {mode_a:o} in one wheel, {mode_b:o} in the other")
        elif not elf_a and crc_a != crc_b:
            found.append(f"{name} differs")
    return found


def main(argv: List[str]) -> int:
    if len(argv) == 2 and argv[0] == "check":
        return check_wheel(Path(argv[1]))
    if len(argv) == 3 and argv[0] == "same-files":
        found = differences_between(Path(argv[1]), Path(argv[2]))
        for problem in found:
            print(f"WRONG: {problem}")
        return 1 if found else 0
    if len(argv) in (2, 3) and argv[0] == "tag":
        print(tag_for(elf_files_in_dir(Path(argv[1])), *argv[2:]))
        return 0
    print(
        "usage: wheel_tags.py check WHEEL | tag DIR [ARCH] | same-files WHEEL WHEEL",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
