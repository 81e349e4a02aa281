"""YAML -> Config: typed, immutable, and every error with file:line:key.

    values.py   durations, sizes, slugs, time zones, language tags, encodings, regexes
    kinds.py    what a key takes (text, whole number, duration...), each with its range
    build.py    option() declares a key; build() turns YAML values into a model
    model.py    the frozen dataclasses (Config, Source, Category, ...)
    tree.py     the file -> values with lines: yamlfile's parse, or its cache while the
                file is unchanged (a cron run then imports no PyYAML)
    yamlfile.py PyYAML (libyaml) events -> values with lines, bounded in depth and size
    loader.py   load_config: every problem at once, as file:line: key: message
    checks.py   what `check` adds: folders that must exist, values worth a warning
    edit/       the file edited in place, its comments kept (ruamel.yaml's round trip;
                imported only by the commands that edit it)

Relative paths resolve against the config file's folder.
"""

from aggregator.config.loader import config_path, load_config
from aggregator.config.model import (
    Category,
    Config,
    DedupConfig,
    DefaultsConfig,
    FetchConfig,
    PublishConfig,
    Rule,
    ServerConfig,
    Source,
)
from aggregator.config.values import format_duration, parse_duration, parse_size

__all__ = [
    "Category",
    "Config",
    "DedupConfig",
    "DefaultsConfig",
    "FetchConfig",
    "PublishConfig",
    "Rule",
    "ServerConfig",
    "Source",
    "config_path",
    "format_duration",
    "load_config",
    "parse_duration",
    "parse_size",
]
