"""Product relevance: does the failed product fall within a certificate's scope?"""

from __future__ import annotations

import re
import unicodedata

_NOISE = re.compile(r"[\s\-_/·.,，、;；:：()（）]+")


def _norm(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFKC", text)).upper()


def product_in_scope(
    product: str | None, model: str | None, scope: str | None, products: list[str] | tuple[str, ...]
) -> bool | None:
    """True when the model is on the certificate's list or the product is named in its scope or products;
    False when the certificate says what it covers and this is not it; None when nothing can be said."""
    if not (product or model) or not (scope or products):
        return None
    listed = [_norm(p) for p in products if p]
    if model and (wanted := _norm(model)) and any(wanted and (wanted in p or p in wanted) for p in listed if p):
        return True
    if product:
        name = _norm(product)
        texts = [*listed, _norm(scope or "")]
        if any(name and t and (name in t or t in name) for t in texts):
            return True
    return False
