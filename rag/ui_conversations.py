"""The conversations a browser keeps between visits: what the page stores (`stored`), reads back
(`restored`), and how a tab's change lands on what the other tabs of the browser stored (`merged`).

Why: a researcher works in several tabs. Gradio's `BrowserState` reads the browser's copy once,
when the page opens, and writes the tab's whole copy at each change; so the tab that answered
last wrote over what another tab had asked since (a conversation begun there was lost). Before
each write the page now hands the server the copy as the browser holds it at that moment
(`READ_COPY_JS`); the server decrypts it (`browser_copy`: Gradio encrypts it with CryptoJS's
passphrase AES and the index folder's key, `browser_key`) and changes only the conversation the
tab acted on. What another tab asked in the same conversation meanwhile is kept beside it. (The
key reaches every page that loads, so the encryption keeps the copy unreadable in the storage
itself, a profile on disk or an extension, not from its own page: a copy is read as untrusted input.)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import logging
import os
import secrets
import uuid
from pathlib import Path
from typing import NamedTuple

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from rag.answer import Answer
from rag.ui_render import Turn

_log = logging.getLogger(__name__)

STORAGE_KEY = "rag-conversation"  # the browser's local storage entry
# An event's last input replaced by the browser's copy as stored now (by any tab), for `browser_copy`
READ_COPY_JS = f"(...inputs) => [...inputs.slice(0, -1), localStorage.getItem({json.dumps(STORAGE_KEY)}) || '']"
# the questions a browser keeps, of all its conversations (~2-8 KB each, well under its ~5 MB of local storage; all
# of them go to the browser after each answer)
KEPT_TURNS = 100
TITLE_CHARS = 60  # of a conversation's first question, its title in the list of conversations


Shelf = dict[str, list[Turn]]  # a browser's conversations by id, the one asked in last first


def stored(shelf: Shelf, current: str) -> dict:
    """The conversations as the browser keeps them between visits (JSON): the one open (`current`)
    and each one's id and turns (the question, its answer as `Answer.to_json` writes it, the
    answer's id), the one asked in last first: the last `KEPT_TURNS` questions of them all (the
    conversations asked in longest ago are dropped first).

    Example::

        stored({"c1": [Turn("Siapa?", answer, "a1")]}, "c1")
        # {'current': 'c1', 'conversations': [{'id': 'c1', 'turns': [{'question': 'Siapa?', ...}]}]}
    """
    kept, room = [], KEPT_TURNS
    for conversation_id, turns in shelf.items():
        if room <= 0:
            break
        turns = turns[-room:]
        room -= len(turns)
        kept.append({"id": conversation_id, "turns": [{"question": turn.question, "answer": turn.answer.to_json(),
                                                       "id": turn.answer_id} for turn in turns]})
    return {"current": current, "conversations": kept}


def restored(kept: dict | list | None) -> tuple[Shelf, str]:
    """The conversations `stored` kept and the id of the one open (a new id when none is, or the
    one open was a new, empty one); the one conversation an earlier version kept (a list of
    turns) is read as one. What this version cannot read (another version's, or tampered with)
    gives none (one line in the log).

    Example::

        restored(stored(shelf, "c1")) == (shelf, "c1")   # True
    """
    try:
        shelf = shelf_of(kept)
        current = str((kept.get("current") if isinstance(kept, dict) else "") or next(iter(shelf), ""))
        # an empty new one open gets an id of its own: two tabs opened at once would otherwise share it
        return shelf, current if current in shelf else uuid.uuid4().hex[:12]
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as error:
        _log.warning("the conversations kept in a browser could not be read (%s); the chat starts empty", error)
        return {}, uuid.uuid4().hex[:12]


def text(value: object) -> str:
    """`value` when it is a string; TypeError otherwise (a copy this version cannot read)."""
    if not isinstance(value, str):
        raise TypeError(f"a string was expected, not {type(value).__name__}")
    return value


def shelf_of(kept: dict | list | None) -> Shelf:
    """The conversations in what `stored` kept (or the one an earlier version kept, a list of
    turns); KeyError, TypeError, ValueError, AttributeError or RecursionError when this version
    cannot read it."""
    if isinstance(kept, list):  # an earlier version's: one conversation
        kept = {"current": "", "conversations": [{"id": uuid.uuid4().hex[:12], "turns": kept}]} if kept else None
    if not kept:
        return {}
    shelf = {str(item["id"]): [Turn(text(turn["question"]), Answer.from_json(turn["answer"]), text(turn["id"])) for turn in item["turns"]]
             for item in kept["conversations"]}
    return {conversation_id: turns for conversation_id, turns in shelf.items() if turns}


def shelved(shelf: Shelf, current: str, conversation: list[Turn]) -> Shelf:
    """The conversations with the open one (`current`) as it is now: first when it changed (a
    question asked, one undone), where it was when it did not, gone when it is empty (cleared).

    Example::

        list(shelved({"c1": first, "c2": second}, "c2", second + [turn]))   # ['c2', 'c1']
    """
    others = {conversation_id: turns for conversation_id, turns in shelf.items() if conversation_id != current}
    if not conversation:
        return others
    if [turn.answer_id for turn in shelf.get(current, [])] == [turn.answer_id for turn in conversation]:
        return shelf
    return {current: conversation, **others}


def conversation_choices(shelf: Shelf) -> list[tuple[str, str]]:
    """The conversations as the list offers them: (the first question, cut at `TITLE_CHARS`; the id)."""
    def title(question: str) -> str:
        return question if len(question) <= TITLE_CHARS else question[: TITLE_CHARS - 1].rstrip() + "…"
    return [(title(turns[0].question), conversation_id) for conversation_id, turns in shelf.items()]


def browser_key(index_dir: Path) -> str | None:
    """The key the browser's copy of a conversation is encrypted with, kept in `index_dir` (file
    `browser.key`, readable by its owner only) so that the page reads back what an earlier run of
    the server, or another server on the same index, stored; None (Gradio then makes a key for
    this run, and a restart forgets the conversations) when the folder cannot keep one.

    Example::

        browser_key(Path("index")) == browser_key(Path("index"))   # True: made once, then read
    """
    path = index_dir / "browser.key"
    try:
        if not path.exists():  # written aside, then linked into place: a server starting beside reads it whole
            index_dir.mkdir(parents=True, exist_ok=True)
            aside = index_dir / f".browser.key.{os.getpid()}"
            with os.fdopen(os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="ascii") as file:
                file.write(secrets.token_urlsafe(24))
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
            aside.unlink()
        return path.read_text(encoding="ascii").strip() or None
    except OSError as error:
        _log.warning("no key for the conversations kept in browsers in %s (%s): a restart forgets them", index_dir, error)
        return None


def browser_copy(raw: str, secret: str) -> Shelf | None:
    """The conversations in the browser's copy as the page read it from local storage
    (`READ_COPY_JS`), encrypted by Gradio's `BrowserState` with `secret`; None when there is none
    or it cannot be read (another key's, or tampered with: one line in the log).

    Gradio writes "iv:ciphertext", the ciphertext in CryptoJS's passphrase format: base64 of
    "Salted__", 8 bytes of salt and AES-256-CBC, its key and iv derived from the SHA-256 (hex) of
    `secret` and the salt by OpenSSL's EVP_BytesToKey with MD5 (the "iv:" part is not used).

    Args:
        raw: the local storage value, '' when the browser holds none.
        secret: the key `BrowserState` was given (`browser_key`) or made.

    Returns:
        the conversations by id, as `restored` reads them; None when nothing could be read.

    Example::

        browser_copy(page_copy, browser_key(Path("index")))   # {'c1': [Turn('Siapa juru bicara Kremlin?', ...)]}
    """
    if not raw:
        return None
    try:
        data = base64.b64decode(raw.rpartition(":")[2], validate=True)
        if data[:8] != b"Salted__" or len(data) < 32:
            raise ValueError("not CryptoJS's salted format")
        salt, passphrase = data[8:16], hashlib.sha256(secret.encode()).hexdigest().encode()
        derived = block = b""
        while len(derived) < 48:  # EVP_BytesToKey(MD5, one round): 32 bytes of key, 16 of iv
            block = hashlib.md5(block + passphrase + salt, usedforsecurity=False).digest()
            derived += block
        decryptor = Cipher(algorithms.AES(derived[:32]), modes.CBC(derived[32:48])).decryptor()
        unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
        plain = unpadder.update(decryptor.update(data[16:]) + decryptor.finalize()) + unpadder.finalize()
        return shelf_of(json.loads(plain))
    except (ValueError, binascii.Error, KeyError, TypeError, AttributeError, RecursionError) as error:
        _log.warning("the conversations another tab kept could not be read (%s); this tab's are kept", error)
        return None


class Merged(NamedTuple):
    """What `merged` makes of a tab's change: the conversations to `store` in the browser, those
    this tab goes on from (`seen`: the same, but the one open as this tab has it, the base its
    next change is merged against) and the id of the one open (`current`)."""

    store: Shelf
    seen: Shelf
    current: str


def merged(shelf: Shelf, current: str, conversation: list[Turn], fresh: Shelf | None) -> Merged:
    """The conversations to keep after this tab changed the one open (`current`, now `conversation`)
    or opened another, and the id this tab's open one has now: the browser's copy as stored now
    (`fresh`, read by `browser_copy`; another tab may have written it since this tab last did),
    with only the open conversation as this tab has it when this tab changed it (asked, undone,
    cleared) or the copy lacks it. When another tab asked in that same conversation meanwhile (two
    tabs opened it), the other tab's stays as it is, and this tab's goes on under a new id.
    Without a copy (None) this tab's own conversations (`shelf`) are the base.

    Args:
        shelf: the conversations this tab went on from (the `seen` of its last change).
        current: the id of the one open; conversation: its turns now.
        fresh: the browser's copy now, None when there is none or it could not be read.

    Returns:
        a `Merged`: what to store (as `shelved` orders it), what this tab goes on from, the id
        of the one open.

    Example::

        merged({}, "c2", [turn], {"c1": other_tabs}).store   # {'c2': [turn], 'c1': other_tabs}: both kept
    """
    def ids(turns: list[Turn]) -> list[str]:
        return [turn.answer_id for turn in turns]
    before, there = ids(shelf.get(current, [])), (fresh or {}).get(current)
    if fresh is None:
        store = shelved(shelf, current, conversation)
    elif there is not None and (ids(there) == ids(conversation) or ids(conversation) == before):
        store = fresh  # nothing changed here (a language switch, another opened): the copy's stands
    else:
        if there is not None and set(ids(there)) - set(before) - set(ids(conversation)):  # asked there meanwhile
            current = uuid.uuid4().hex[:12]
        store = shelved(fresh, current, conversation)
    return Merged(store, seen_here(store, current, conversation), current)


def seen_here(shelf: Shelf, current: str, conversation: list[Turn]) -> Shelf:
    """`shelf` with the one open (`current`) as this tab has it (`conversation`; left out while
    empty), where it stands: another tab's version of it never becomes this tab's base, or a
    question asked there would be written over at this tab's next one.

    Example::

        seen_here({"c1": theirs, "c2": other}, "c1", mine)   # {'c1': mine, 'c2': other}
    """
    seen = {key: turns for key, turns in shelf.items() if key != current or conversation}
    if conversation:
        seen[current] = conversation
    return seen
