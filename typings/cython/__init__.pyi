"""What Cython's pure-Python mode means to mypy (the matcher's compiled modules; shared/compiled.py).

Cython's own stub (Cython/Shadow.pyi) is not found for `import cython` (a single-file module without
py.typed), and where it would be, it types `void` as a class, `declare(object)` as `object`, and the
memoryview annotations (`cython.int[::1]`) as errors. This one says what each name is when the module
runs interpreted:

- a C scalar is the Python type it converts to (`Py_ssize_t` is an `int`, `bint` a `bool`, `void` is
  `None`);
- `int`, `double` and `longlong` are `Any`: they are also memoryview element types, and mypy has no
  type for a slice in an annotation (`cython.int[::1]` is an `array("i")` or a memoryview of one);
- a directive or decorator returns what it is given;
- `returns(object)` gives a `cfunc` its C return type where the annotation names a Python class
  (Cython refuses those: "Not a type"): the annotation is then for mypy alone, and the C code is the
  same as with `-> object`;
- `declare(T)` in a `cclass` body is `Any`: the attribute's annotation gives mypy its type, while
  Cython reads only the `declare` (an annotation beside it changes nothing in the C code).
"""

import builtins
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar, overload

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., object] | type)

compiled: bool

Py_ssize_t: TypeAlias = builtins.int
ulonglong: TypeAlias = builtins.int
bint: TypeAlias = bool
void: TypeAlias = None
int: Any
double: Any
longlong: Any

def cfunc(func: _F, /) -> _F: ...
def ccall(func: _F, /) -> _F: ...
def cclass(cls: _F, /) -> _F: ...
def final(func: _F, /) -> _F: ...
def inline(func: _F, /) -> _F: ...
def boundscheck(on: bool, /) -> Callable[[_F], _F]: ...
def wraparound(on: bool, /) -> Callable[[_F], _F]: ...
def cdivision(on: bool, /) -> Callable[[_F], _F]: ...
def returns(kind: object, /) -> Callable[[_F], _F]: ...
def cast(kind: type[_T], value: object, /) -> _T: ...
@overload
def declare(kind: type[_T], value: _T, /, *, visibility: str = ...) -> _T: ...
@overload
def declare(kind: object, /, *, visibility: str = ...) -> Any: ...
