"""A generated corpus of everything a newsroom's shared drive can throw at the indexer.

`make_hostile_corpus` writes good files that must be indexed and bad files that must each
be reported once, with the reason a user would need. The short version (for `make test`)
shrinks the big files and the file-size limit by the same factor; `full=True` writes the
real sizes (a 50 MB article, a single 5 MB line) for `make stress`.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

WORDS = ("pemerintah warga banjir gempa harga beras pasar presiden menteri kota desa sekolah rumah sakit "
         "polisi jalan tol kereta listrik air bersih nelayan petani pajak anggaran rapat sidang hakim").split()


@dataclass
class HostileCorpus:
    """What a correct indexer must make of the generated corpus."""

    root: Path
    max_file_mb: float
    good: dict[str, str] = field(default_factory=dict)  # article id -> a phrase only that article contains
    bad: dict[str, str] = field(default_factory=dict)  # relative path (or path:line) -> expected reason
    outside: Path | None = None

    @property
    def failed_files(self) -> set[str]:
        """The files with at least one problem (a JSONL file counts once for all its bad lines)."""
        return {where.rpartition(":")[0] if where.rpartition(":")[2].isdigit() else where for where in self.bad}


def _sentences(rng: random.Random, size: int, end: str = ". ") -> str:
    """Unique, sentence-shaped filler of about `size` characters, all on one line."""
    parts, total = [], 0
    while total < size:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + f" {total}" + end
        parts.append(sentence)
        total += len(sentence)
    return "".join(parts)


def _article(title: str, phrase: str) -> str:
    return f"---\ntitle: {title}\nsource: Uji\n---\n{phrase}. Berita ini dibuat untuk menguji pengindeks.\n"


def make_hostile_corpus(root: Path, full: bool = False) -> HostileCorpus:
    rng = random.Random(7)
    corpus = HostileCorpus(root=root, max_file_mb=20 if full else 1)
    limit = int(corpus.max_file_mb * 2**20)
    root.mkdir(parents=True, exist_ok=True)

    def good(name: str, data: bytes | str, phrase: str, article_id: str | None = None) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        corpus.good[article_id or name] = phrase

    def bad(name: str, data: bytes | str, reason: str) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        corpus.bad[name] = reason

    # --- good files in awkward shapes
    good("biasa.md", _article("Berita Biasa", "Walikota meresmikan jembatan gantung Ciliwung"), "jembatan gantung Ciliwung")
    good("utf16-tanpa-bom.txt", "Judul UTF16\nNelayan Muara Angke menolak reklamasi teluk.\n".encode("utf-16-le"), "menolak reklamasi teluk")
    good("utf16-bom.md", "\ufeffJudul Dengan BOM\nPetani Karawang memanen padi lebih awal.\n".encode("utf-16"), "memanen padi lebih awal")
    good("crlf-bom.md", "\ufeff---\r\ntitle: Windows\r\n---\r\nSidang kabinet membahas subsidi pupuk.\r\n", "membahas subsidi pupuk")
    good("berita — Jakarta ü 日本.md", _article("Nama Unicode", "Kereta cepat berhenti di Halim"), "Kereta cepat berhenti")
    good("titik..dalam..nama.md", _article("Titik Ganda", "Pasar apung Banjarmasin ramai"), "Pasar apung Banjarmasin")
    good("baris\nbaru dalam nama.md", _article("Baris Baru", "Mercusuar Anyer dipugar"), "Mercusuar Anyer dipugar")
    good("/".join(["dalam"] * 10) + "/berlapis.md", _article("Berlapis", "Gudang logistik Bulog terbakar"), "Gudang logistik Bulog")
    long_line = _sentences(rng, (5 * 2**20) if full else 20_000)
    good("satu-baris-panjang.txt", "Satu Baris Panjang\n" + long_line + "Akhir baris panjang disebut gajah putih.\n", "gajah putih")
    records = [{"id": "jl-1", "title": "JSONL Satu", "text": "Bendungan Jatigede mulai diisi air."},
               {"id": "jl-2", "title": "JSONL Dua", "text": "Tol Trans Sumatra tersambung ke Aceh."}]
    corpus.good.update({"jl-1": "Bendungan Jatigede", "jl-2": "Trans Sumatra tersambung"})
    lines = [json.dumps(records[0]), "{rusak", json.dumps(records[1]), "[1, 2]", json.dumps({"id": "jl-1", "text": "duplikat"}),
             json.dumps({"title": "tanpa teks"}), '{"text": "tidak valid \xff"}']
    raw = "\n".join(lines).encode("utf-8").replace(b"\xc3\xbf", b"\xff")  # one line with a raw invalid byte
    (root / "campuran.jsonl").write_bytes(raw + b"\n" + b'{"text": "' + b"x" * (limit + 10) + b'"}\n')
    corpus.bad.update({"campuran.jsonl:2": "not valid JSON", "campuran.jsonl:4": "not a JSON object",
                       "campuran.jsonl:5": "duplicate article id", "campuran.jsonl:6": "no 'text'",
                       "campuran.jsonl:7": "not valid UTF-8", "campuran.jsonl:8": "over the"})

    # --- bad files, one problem each
    bad("biner.md", bytes(rng.randrange(256) for _ in range(4096)) + b"\x00\x00", "binary file")
    bad("latin1.txt", "Judul\nCafé dengan harga murah.\n".encode("latin-1"), "not valid UTF-8")
    bad("kosong.md", b"", "no text")
    bad("hanya-front-matter.md", "---\ntitle: Tanpa Isi\n---\n", "no text")
    bad("yaml-rusak.md", "---\ntitle: [tidak ditutup\nsource: x\n---\nIsi.\n", "not valid YAML")
    bad("yaml-python.md", f"---\ntitle: !!python/object/apply:os.system ['touch {root}/PWNED']\n---\nIsi.\n", "not valid YAML")
    bad("front-matter-terbuka.md", "---\ntitle: Tidak ditutup\nIsi berita.\n", "never ends")
    bad("halaman-kosong.html", "<html><head><script>var x = 1;</script></head><body></body></html>", "no article text")
    bad("besar.md", "Artikel Besar\n" + "x" * (limit + 100_000), "over the")
    if full:  # the 50 MB article of the issue, written in pieces
        with open(root / "lima-puluh-mb.md", "w") as handle:
            handle.write("Lima Puluh MB\n")
            for _ in range(50):
                handle.write(_sentences(rng, 2**20, end=".\n"))
        corpus.bad["lima-puluh-mb.md"] = "over the"

    # --- links, folders and names
    os.symlink("putaran-b.md", root / "putaran-a.md")
    os.symlink("putaran-a.md", root / "putaran-b.md")
    corpus.bad.update({"putaran-a.md": "does not lead to a file", "putaran-b.md": "does not lead to a file"})
    os.symlink(".", root / "folder-putaran")
    corpus.bad["folder-putaran"] = "symlink to a folder"
    corpus.outside = root.parent / "rahasia.md"
    corpus.outside.write_text(_article("Rahasia", "Kata sandi server redaksi"))
    os.symlink(corpus.outside, root / "keluar.md")
    corpus.bad["keluar.md"] = "leads outside the corpus"
    os.mkfifo(root / "pipa.md")
    corpus.bad["pipa.md"] = "not a regular file"
    (root / os.fsdecode(b"caf\xe9.md")).write_text(_article("Nama Latin-1", "Tidak terbaca"))
    corpus.bad[os.fsdecode(b"caf\xe9.md")] = "file name is not valid UTF-8"
    deep = root / "/".join(["lapis"] * 70)
    deep.mkdir(parents=True)
    (deep / "terlalu-dalam.md").write_text(_article("Dalam", "Tidak terbaca"))
    corpus.bad["/".join(["lapis"] * 65)] = "nested deeper than 64"
    return corpus
