"""The table of management actions: each one's name, cloud, version, parameter schema and service call.

A parameter the schema does not name is refused and named. The UFile management signature
concatenates names and values with no separator, so a captured call could otherwise be re-split
(``AllowedPrefixes.0=up/`` → ``AllowedPrefixes=.0up/``) under the same signature; a re-split call
names a parameter its action does not take. ``Name.N`` declares the list ``Name.0``, ``Name.1``, …
(without leading zeros, so no two names mean one item).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from holdall.errors import InvalidParameter, MissingParameter, OutOfRange, UnknownParameter
from holdall.parsing import is_ascii_uint
from holdall.server.control_request import Value

Args = dict[str, Value]
Runner = Callable[[str, Args], Awaitable[dict[str, Any]]]
MAX_TEXT = 4096


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: type[str] | type[int] = str
    required: bool = False
    low: int = -(2**62)
    high: int = 2**62
    max_bytes: int = MAX_TEXT

    @property
    def is_list(self) -> bool:
        return self.name.endswith(".N")

    def parse(self, name: str, value: Value) -> Value:
        if self.kind is int:
            if isinstance(value, str) and is_ascii_uint(value.removeprefix("-"), 19):
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidParameter(name, f"The parameter {name} is an integer.")
            if not self.low <= value <= self.high:
                raise OutOfRange(name, f"The parameter {name} lies between {self.low} and {self.high}.")
            return value
        if not isinstance(value, str):
            raise InvalidParameter(name, f"The parameter {name} is a string.")
        if len(value.encode()) > self.max_bytes:
            raise InvalidParameter(name, f"The parameter {name} has at most {self.max_bytes} bytes.")
        return value


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str
    cloud: str
    params: tuple[Param, ...]
    run: Runner
    version: str = ""
    """The cloud's API version of the action; empty for UFile's own actions."""
    service: str = ""
    """The service a cloud's credential scope must name."""
    version_required: bool = False
    """Whether a UFile-signed call must name the version too."""

    def parse(self, params: Mapping[str, Value], common: frozenset[str], passed: frozenset[str]) -> Args:
        """The call's own parameters, checked against the schema; ``passed`` common ones are kept."""
        plain = {param.name: param for param in self.params if not param.is_list}
        lists = {param.name[:-2]: param for param in self.params if param.is_list}
        args: Args = {}
        for name, value in params.items():
            if name in plain:
                args[name] = plain[name].parse(name, value)
                continue
            base, dot, number = name.partition(".")
            if dot and base in lists and is_ascii_uint(number, 6) and str(int(number)) == number:
                args[name] = lists[base].parse(name, value)
                continue
            if name in common:
                if name in passed:
                    args[name] = str(value)
                continue
            raise UnknownParameter(name, self.name)
        for param in self.params:
            if param.required and args.get(param.name) in (None, ""):
                raise MissingParameter(param.name)
        return args


def declared(*names: str) -> tuple[Param, ...]:
    """Text parameters by name, checked by the handler that reads them."""
    return tuple(Param(name) for name in names)
