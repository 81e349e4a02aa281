"""``wiredesk why ID`` and ``wiredesk split ID SOURCE``: which rule folded each source's
item into a story, and taking a wrongly folded item back out of it."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aggregator.cli import ids
from aggregator.cli.common import EXIT_OK, Adder, opened_store
from aggregator.errors import UsageError

if TYPE_CHECKING:
    from aggregator.config import Config


def register(add: Adder) -> None:
    """Add the ``why`` and ``split`` commands through the parser's ``add``."""
    why = add("why", "say which rule folded each source's item into a story", cmd_why)
    why.add_argument(
        "id", metavar="ID", help="a story id, or any unique start of it (see articles)"
    )
    why.add_argument("--json", action="store_true", help="print one JSON object")
    split = add(
        "split",
        "separate a source's wrongly folded item into a story of its own, for good",
        cmd_split,
    )
    split.add_argument("id", metavar="ID", help="the story id, or any unique start of it")
    split.add_argument("source", metavar="SOURCE", help="the source whose item to separate")


def cmd_why(args: argparse.Namespace, config: Config) -> int:
    """Print each carrier of a story with the rule that folded it in."""
    with opened_store(config) as store:
        story = ids.story_id(store, args.id, "ID")
        article = store.article(story)
        carriers = store.fold_reasons(story)
    if article is None or carriers is None:
        raise UsageError("ID", f"no stored story has the id {story} (pruned meanwhile)")
    if args.json:
        payload = {
            "id": article.id,
            "title": article.title,
            "carriers": [
                {
                    "source": c.source,
                    "guid": c.guid,
                    "link": c.link,
                    "rule": c.fold.rule,
                    "score": c.fold.score,
                }
                for c in carriers
            ],
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{article.title} ({article.id})")
    for c in carriers:
        print(f"  {c.source}: {c.fold.describe()}  {c.link or c.guid}")
    return EXIT_OK


def cmd_split(args: argparse.Namespace, config: Config) -> int:
    """Separate one source's item from a story; later passes keep it apart."""
    with opened_store(config) as store:
        story = ids.story_id(store, args.id, "ID")
        new_id = store.split(story, args.source, now=datetime.now(UTC))
    print(f"{story}: {args.source}'s item is now story {new_id}; the next publish shows both")
    return EXIT_OK
