"""YAML -> Config: typed, immutable, and every error with file:line:key.

    values.py   durations, sizes, slugs, time zones, regexes, paths
    model.py    the pydantic models (Config, Source, Category, ...)
    loader.py   load_config: ruamel.yaml with line numbers, every problem at once

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
