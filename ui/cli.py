"""`rag chat`: serve the chat page (plugged into the `rag` command by an entry point)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .config import UIConfig


def register(sub: Any) -> None:
    """Add the `chat` subcommand to the `rag` command's subparsers (gradio loads on use only)."""
    from rag.cli import add_model_arg, add_store_args
    from rag.paths import DEFAULT_CORPUS

    defaults = UIConfig()
    p = sub.add_parser("chat", help="open the chat page in the browser (Gradio)")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of articles")
    p.add_argument("--index-dir", type=Path, default=None, help="where the index is stored")
    add_store_args(p)
    p.add_argument("--host", default=defaults.host,
                   help=f"address to serve on (default {defaults.host}: this machine only)")
    p.add_argument("--port", type=int, default=defaults.port, help=f"port (default {defaults.port})")
    add_model_arg(p)  # offers the transformers answerer in the page's selector
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    p.add_argument("--uploads-dir", type=Path, default=None,
                   help="folder for files added on the page (default: one per corpus in the cache folder, "
                        "never the corpus folder itself)")
    p.add_argument("--shared-uploads", action="store_true",
                   help="files a visitor adds are answerable for every visitor (default: only for that visitor)")
    p.add_argument("--no-uploads", action="store_true", help="the page takes no files")
    p.add_argument("--file-dates", action="store_true",
                   help="the files' modification dates are their publication dates (for articles that state none)")
    p.add_argument("--max-upload-mb", type=float, default=defaults.max_upload_bytes / (1024 * 1024),
                   help="largest file the page accepts, in MB (default %(default)g)")
    p.set_defaults(func=cmd_chat)


def cmd_chat(args: argparse.Namespace) -> int:
    """Build or reuse the corpus index, then serve the page until interrupted."""
    from rag.chatbot import Chatbot
    from rag.cli import answerer_options, store_options

    from .service import ChatService

    config = UIConfig(host=args.host, port=args.port, share=args.share,
                      max_upload_bytes=int(args.max_upload_mb * 1024 * 1024))
    folder = args.uploads_dir or default_uploads_dir(args.corpus)
    shared = None if args.no_uploads or not args.shared_uploads else folder / "shared"
    visitors = None if args.no_uploads or args.shared_uploads else folder / "visitors"
    bot = Chatbot.from_corpus(args.corpus, index_dir=args.index_dir, progress=True, uploads_dir=shared,
                              file_dates=args.file_dates, **answerer_options(None, args.model, args.runtime),
                              **store_options(args))
    from .app import build_app, launch_app  # gradio is heavy: only `rag chat` pays for it

    demo = build_app(ChatService(bot, config, visitors_dir=visitors))
    url = launch_app(demo, config, prevent_thread_lock=True, quiet=True)
    print(f"Chat page for {len(bot.documents)} articles in {args.corpus}: {url} (Ctrl+C stops)", flush=True)
    if config.host not in ("127.0.0.1", "localhost", "::1"):
        reach = "read and add articles" + (" for everyone" if shared else "")
        print(f"warning: serving on {config.host}: anyone who can reach this machine can {reach}", flush=True)
    demo.block_thread()
    return 0


def default_uploads_dir(corpus_dir: Path) -> Path:
    """Where the page keeps uploads for ``corpus_dir``: in the cache folder, one folder per
    corpus, apart from the corpus (and from the project's own files)."""
    import hashlib

    from rag.paths import cache_root

    key = hashlib.sha256(str(Path(corpus_dir).resolve()).encode("utf-8")).hexdigest()[:12]
    return cache_root() / "uploads" / f"{Path(corpus_dir).resolve().name}-{key}"
