"""YAML for configs, parsed as data with limits: a config can never run code or exhaust memory.

``yaml.safe_load`` constructs only plain data, but it expands aliases: a 1 KB "billion laughs"
file (nested lists of aliases) becomes billions of nodes and gigabytes of memory before any
validation can look at it. So the document is first *composed* (a graph in which an alias is one
shared node) and measured: its size on disk, its nesting depth, its number of aliases and the
number of nodes it would expand to are all bounded before anything is constructed.
"""

from __future__ import annotations

from typing import Any

import yaml

from corpusflow.core.errors import ConfigError

#: Limits far above any real config (the largest shipped one has a few hundred nodes).
MAX_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_ALIASES = 1_000
MAX_EXPANDED_NODES = 200_000


def load_yaml(text: str, origin: str) -> Any:
    """Parse ``text`` as plain YAML data within the limits above; :class:`ConfigError` otherwise."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise ConfigError(f"{origin}: larger than {MAX_BYTES // 1024} KiB; a config is a small text file")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML: {excerpt(str(exc))}") from None
    if node is None:
        return None
    _check_graph(node, origin)
    try:
        return yaml.SafeLoader(text).get_single_data()
    except yaml.YAMLError as exc:  # pragma: no cover - composed fine above
        raise ConfigError(f"{origin}: not valid YAML: {excerpt(str(exc))}") from None


def _check_graph(root: yaml.Node, origin: str) -> None:
    """Depth, alias count and expanded size of a composed document (shared nodes are aliases)."""
    seen: dict[int, int] = {}  # node id -> expanded size
    aliases = 0

    def size(node: yaml.Node, depth: int) -> int:
        nonlocal aliases
        if depth > MAX_DEPTH:
            raise ConfigError(f"{origin}: nested more than {MAX_DEPTH} levels deep")
        key = id(node)
        if key in seen:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise ConfigError(f"{origin}: more than {MAX_ALIASES} YAML aliases")
            return seen[key]
        seen[key] = 1  # a node that refers to itself counts once (and is refused below)
        total = 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k, depth + 1) + size(v, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for v in node.value:
                total += size(v, depth + 1)
        if total > MAX_EXPANDED_NODES:
            raise ConfigError(f"{origin}: expands to more than {MAX_EXPANDED_NODES:,} values through YAML "
                              "aliases (an alias bomb?); write the values out instead")
        seen[key] = total
        return total

    size(root, 0)


def excerpt(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"
