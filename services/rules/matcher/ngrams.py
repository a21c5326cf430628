"""Character n-gram retrieval: the matcher's second, independent candidate path (issue 11).

Every registry name (current, former, CCC party) is a document made of its character 2-grams and
3-grams; a name asked is one too, and the documents sharing the most weight with it come back, best
first, by TF-IDF cosine (binary term frequency, BM25's idf). It needs no parse of the name: a 字号 whose
region, legal form or one character was mangled still shares most of its n-grams with the registered one.

The inverted index is plain arrays (no numpy, no scipy: measured, an inverted index over the rarer
n-grams in a compiled loop is both smaller and faster here than a sparse matrix product):

- n-grams are hashed into a power-of-two number of buckets (two n-grams sharing a bucket share a
  posting list: a little noise in the retrieval, which the scorer re-checks anyway);
- postings: the documents of each bucket, in document order, in one int32 array (CSR);
- per document, the norm of its weight vector, computed when the index is built.

A query walks its n-grams from the rarest up and stops at a posting budget (measured at a million
names: 256 postings find what 800 do, in 3 µs instead of 8; the walk is random access, ~10 ns a
posting); an n-gram in more than `max_df` documents (有限, 公司, 电器 at a million names) is never
walked, only counted in the norms.

Names added after the build (a live registry's edits) go to a small overflow index, folded into the
arrays once it holds a quarter as many documents as they do. Documents are never removed here: the
caller skips the ones of removed organisations, and rebuilds the whole (`reset`) when it compacts.

Plain Python with Cython type annotations, compiled with the matcher (shared/compiled.py); the same
source, interpreted, returns the same documents and the same scores, bit for bit.
"""

from __future__ import annotations

from array import array

import cython
from cython.cimports.libc.math import log, sqrt  # Python's math functions when not compiled

# C constants when compiled (module globals would be looked up as Python objects in the loops).
POSTING_BUDGET = cython.declare(cython.Py_ssize_t, 256)  # postings a query walks (its rarest n-gram at least)
MAX_DF_PER = cython.declare(cython.Py_ssize_t, 500)  # an n-gram in more than one document in this many …
MAX_DF_FLOOR = cython.declare(cython.Py_ssize_t, 400)  # … and in more than this many is never walked
MAX_TEXT = cython.declare(cython.Py_ssize_t, 48)  # characters of a name that count (rarely more)
MAX_LIMIT = cython.declare(cython.Py_ssize_t, 64)  # documents one search may return, at most
_MASK = cython.declare(cython.ulonglong, 0xFFFFFFFFFFFFFFFF)  # 64-bit wrap-around, as C does it
_M1 = cython.declare(cython.ulonglong, 2654435761)
_M2 = cython.declare(cython.ulonglong, 2246822519)


@cython.cfunc
@cython.inline
def _mix(key: cython.ulonglong) -> cython.ulonglong:
    """A 64-bit mix of an n-gram's key (code points side by side), the same compiled or not."""
    key ^= key >> 31
    key = (key * _M1) & _MASK
    key ^= key >> 29
    key = (key * _M2) & _MASK
    key ^= key >> 32
    return key


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cfunc
def _buckets(text: str, mask: cython.ulonglong, out: cython.int[::1]) -> cython.Py_ssize_t:
    """The distinct buckets of a text's 2-grams and 3-grams into `out` (2 × MAX_TEXT long), in order of
    first appearance; returns how many."""
    n: cython.Py_ssize_t = min(len(text), MAX_TEXT)
    i: cython.Py_ssize_t
    j: cython.Py_ssize_t
    count: cython.Py_ssize_t = 0
    a: cython.ulonglong
    b: cython.ulonglong
    bucket: cython.int
    gram: cython.int
    for i in range(n - 1):
        a = ord(text[i])
        b = ord(text[i + 1])
        for gram in range(2):
            if gram == 0:
                bucket = _mix((a << 21) | b) & mask
            elif i + 2 < n:
                bucket = _mix((a << 42) | (b << 21) | ord(text[i + 2])) & mask
            else:
                break
            for j in range(count):
                if out[j] == bucket:
                    break
            else:
                out[count] = bucket
                count += 1
    return count


@cython.cfunc
@cython.inline
@cython.cdivision(True)  # df + 0.5 > 0
def _weight(df: cython.Py_ssize_t, docs: cython.Py_ssize_t) -> cython.double:
    """BM25's idf: rare n-grams weigh most, and none weighs nothing."""
    return log(1.0 + (docs - df + 0.5) / (df + 0.5))


@cython.final
@cython.cclass
class NgramIndex:
    """Documents (texts) by their character 2-grams and 3-grams; `search` gives the nearest by cosine."""

    _texts: list[str] = cython.declare(list)  # by document
    _base = cython.declare(cython.Py_ssize_t)  # documents in the arrays; the rest are in the overflow
    _mask = cython.declare(cython.ulonglong)  # buckets - 1
    _starts = cython.declare(cython.int[::1])  # bucket -> first posting; buckets + 1 entries
    _postings = cython.declare(cython.int[::1])
    _norms = cython.declare(cython.double[::1])  # by document in the arrays
    _acc = cython.declare(cython.double[::1])  # scratch: a query's dot product per document, left at zero
    _touched = cython.declare(cython.int[::1])  # scratch: the documents a query touched
    _grams = cython.declare(cython.int[::1])  # scratch: one text's buckets
    _dfs = cython.declare(cython.longlong[::1])  # scratch: their document frequencies
    _order = cython.declare(cython.int[::1])  # scratch: the walked ones, rarest first
    _best_scores = cython.declare(cython.double[::1])  # scratch: the best documents so far
    _best_docs = cython.declare(cython.int[::1])
    _extra: dict[int, list[int]] = cython.declare(dict)  # bucket -> documents of the overflow
    _extra_norms: list[float] = cython.declare(list)  # by document - _base
    _indexed = cython.declare(cython.Py_ssize_t)  # documents indexed (arrays and overflow)
    budget = cython.declare(cython.Py_ssize_t, visibility="public")  # postings a search may walk

    def __init__(self) -> None:
        self._texts = []
        self.budget = POSTING_BUDGET
        self._grams = array("i", bytes(4 * 2 * MAX_TEXT))
        self._dfs = array("q", bytes(8 * 2 * MAX_TEXT))
        self._order = array("i", bytes(4 * 2 * MAX_TEXT))
        self._best_scores = array("d", bytes(8 * (MAX_LIMIT + 1)))
        self._best_docs = array("i", bytes(4 * (MAX_LIMIT + 1)))
        self._empty()

    def __len__(self) -> int:
        return len(self._texts)

    @cython.cfunc
    def _empty(self) -> cython.void:
        self._set_arrays(0, 1024, array("i", bytes(4 * 1025)), array("i", bytes(4)), array("d", bytes(8)))

    @cython.cfunc
    def _set_arrays(
        self, base: cython.Py_ssize_t, buckets: cython.Py_ssize_t, starts: object, postings: object, norms: object
    ) -> cython.void:
        self._base, self._mask = base, buckets - 1
        self._starts, self._postings, self._norms = starts, postings, norms
        self._acc = array("d", bytes(8 * max(base, 1)))
        self._touched = array("i", bytes(4 * max(base, 1)))
        self._extra, self._extra_norms, self._indexed = {}, [], base

    def add(self, text: str) -> int:
        """A new document (indexed when next searched, or by `flush`); returns its number."""
        self._texts.append(text)
        return len(self._texts) - 1

    def reset(self, texts: list[str]) -> None:
        """Start again with these documents (numbered in this order), and index them."""
        self._texts = list(texts)
        self._empty()
        self.flush()

    def flush(self) -> None:
        """Index the documents added since: into the arrays (all of them again) when they are many,
        else into the overflow."""
        pending: cython.Py_ssize_t = len(self._texts) - self._indexed
        if pending <= 0:
            return
        if pending > max(1_000, self._base // 4):
            self._build()
            return
        grams: cython.int[::1] = self._grams
        d: cython.Py_ssize_t
        g: cython.Py_ssize_t
        count: cython.Py_ssize_t
        w: cython.double
        docs: cython.Py_ssize_t = len(self._texts)
        for d in range(self._indexed, docs):
            total: cython.double = 0.0
            count = _buckets(self._texts[d], self._mask, grams)
            for g in range(count):
                found = self._extra.get(grams[g])
                if found is None:
                    self._extra[grams[g]] = [d]
                else:
                    found.append(d)
                w = _weight(self._df(grams[g]), docs)
                total += w * w
            self._extra_norms.append(sqrt(total))
        self._indexed = docs

    @cython.cfunc
    def _df(self, bucket: cython.int) -> cython.Py_ssize_t:
        df: cython.Py_ssize_t = self._starts[bucket + 1] - self._starts[bucket]
        if self._extra:
            found = self._extra.get(bucket)
            if found is not None:
                df += len(found)
        return df

    @cython.boundscheck(False)
    @cython.wraparound(False)
    @cython.cfunc
    def _build(self) -> cython.void:
        """Every document into the arrays: n-grams hashed, counted per bucket, laid out by bucket."""
        texts: list[str] = self._texts
        docs: cython.Py_ssize_t = len(texts)
        d: cython.Py_ssize_t
        i: cython.Py_ssize_t
        g: cython.Py_ssize_t
        count: cython.Py_ssize_t
        total: cython.Py_ssize_t = 0
        length: cython.Py_ssize_t
        for d in range(docs):
            length = len(cython.cast(str, texts[d]))
            if length >= 2:
                total += 2 * min(length, MAX_TEXT) - 3
        buckets: cython.Py_ssize_t = 1024
        while buckets < total // 2:  # about one n-gram in two shares its bucket's list with another
            buckets *= 2
        mask: cython.ulonglong = buckets - 1
        scratch: cython.int[::1] = self._grams
        grams: cython.int[::1] = array("i", bytes(4 * max(total, 1)))  # each document's buckets, in turn
        ends: cython.int[::1] = array("i", bytes(4 * (docs + 1)))
        starts_array = array("i", bytes(4 * (buckets + 1)))
        starts: cython.int[::1] = starts_array
        at: cython.Py_ssize_t = 0
        bucket: cython.int
        for d in range(docs):
            count = _buckets(texts[d], mask, scratch)
            for g in range(count):
                bucket = scratch[g]
                grams[at] = bucket
                starts[bucket + 1] += 1
                at += 1
            ends[d + 1] = at
        for i in range(buckets):
            starts[i + 1] += starts[i]
        postings_array = array("i", bytes(4 * max(at, 1)))
        postings: cython.int[::1] = postings_array
        fill: cython.int[::1] = array("i", starts_array)  # the next free posting of each bucket
        norms_array = array("d", bytes(8 * max(docs, 1)))
        norms: cython.double[::1] = norms_array
        w: cython.double
        dot: cython.double
        for d in range(docs):
            dot = 0.0
            for i in range(ends[d], ends[d + 1]):
                bucket = grams[i]
                postings[fill[bucket]] = d
                fill[bucket] += 1
                w = _weight(starts[bucket + 1] - starts[bucket], docs)
                dot += w * w
            norms[d] = sqrt(dot)
        self._set_arrays(docs, buckets, starts_array, postings_array, norms_array)

    def search(self, text: str, limit: cython.Py_ssize_t, min_score: cython.double) -> list[tuple[int, float]]:
        """[(document, cosine)] for the `limit` (at most MAX_LIMIT) documents nearest `text` with at least
        `min_score`, best first (the lower-numbered on a tie). The cosine counts the n-grams walked: the
        rarest, within the posting budget; the rest only make the norms larger."""
        self.flush()
        docs: cython.Py_ssize_t = len(self._texts)
        if docs == 0:
            return []
        limit = min(limit, MAX_LIMIT)
        max_df: cython.Py_ssize_t = max(MAX_DF_FLOOR, docs // MAX_DF_PER)
        grams: cython.int[::1] = self._grams
        dfs: cython.longlong[::1] = self._dfs
        order: cython.int[::1] = self._order
        count: cython.Py_ssize_t = _buckets(text, self._mask, grams)
        query_norm: cython.double = 0.0
        w: cython.double
        df: cython.Py_ssize_t
        g: cython.Py_ssize_t
        j: cython.Py_ssize_t
        walked: cython.Py_ssize_t = 0
        for g in range(count):
            df = self._df(grams[g])
            dfs[g] = df
            if df == 0:
                continue
            w = _weight(df, docs)
            query_norm += w * w
            if df <= max_df:  # insertion sort: rarest first, the earlier n-gram on a tie
                j = walked
                while j > 0 and dfs[order[j - 1]] > df:
                    order[j] = order[j - 1]
                    j -= 1
                order[j] = g
                walked += 1
        if walked == 0:
            return []
        used: cython.Py_ssize_t = 1  # the n-grams walked: the rarest always, then more within the budget
        spent: cython.Py_ssize_t = dfs[order[0]]
        while used < walked and spent + dfs[order[used]] <= self.budget:
            spent += dfs[order[used]]
            used += 1
        touched: cython.Py_ssize_t = self._walk(used, docs)
        extra: dict[int, float] = self._walk_overflow(used, docs) if self._extra else {}
        return self._best(touched, extra, sqrt(query_norm), limit, min_score)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    @cython.cfunc
    def _walk(self, used: cython.Py_ssize_t, docs: cython.Py_ssize_t) -> cython.Py_ssize_t:
        """Add each walked n-gram's weight² to its documents' dot products (`_acc`); returns how many
        documents were touched (listed in `_touched`)."""
        grams: cython.int[::1] = self._grams
        dfs: cython.longlong[::1] = self._dfs
        order: cython.int[::1] = self._order
        starts: cython.int[::1] = self._starts
        postings: cython.int[::1] = self._postings
        acc: cython.double[::1] = self._acc
        touched: cython.int[::1] = self._touched
        count: cython.Py_ssize_t = 0
        k: cython.Py_ssize_t
        p: cython.Py_ssize_t
        d: cython.Py_ssize_t
        bucket: cython.int
        w: cython.double
        for k in range(used):
            bucket = grams[order[k]]
            w = _weight(dfs[order[k]], docs)
            w = w * w
            for p in range(starts[bucket], starts[bucket + 1]):
                d = postings[p]
                if acc[d] == 0.0:
                    touched[count] = d
                    count += 1
                acc[d] += w
        return count

    @cython.cfunc
    def _walk_overflow(self, used: cython.Py_ssize_t, docs: cython.Py_ssize_t) -> dict[int, float]:
        """The same for the overflow's documents: {document: dot product}."""
        grams: cython.int[::1] = self._grams
        dfs: cython.longlong[::1] = self._dfs
        order: cython.int[::1] = self._order
        dots: dict[int, float] = {}
        k: cython.Py_ssize_t
        w: cython.double
        for k in range(used):
            found = self._extra.get(grams[order[k]])
            if found is not None:
                w = _weight(dfs[order[k]], docs)
                for d in found:
                    dots[d] = dots.get(d, 0.0) + w * w
        return dots

    @cython.boundscheck(False)
    @cython.wraparound(False)
    @cython.cdivision(True)  # no zero division: a touched document has a weight
    @cython.cfunc
    def _best(
        self,
        touched: cython.Py_ssize_t,
        extra: dict[int, float],
        query_norm: cython.double,
        limit: cython.Py_ssize_t,
        min_score: cython.double,
    ) -> list[tuple[int, float]]:
        """The `limit` best of the touched documents (and the overflow's) by cosine, best first; the dot
        products are set back to zero on the way."""
        acc: cython.double[::1] = self._acc
        listed: cython.int[::1] = self._touched
        norms: cython.double[::1] = self._norms
        scores: cython.double[::1] = self._best_scores
        best: cython.int[::1] = self._best_docs
        kept: cython.Py_ssize_t = 0
        t: cython.Py_ssize_t
        d: cython.Py_ssize_t
        score: cython.double
        for t in range(touched):
            d = listed[t]
            score = acc[d] / (query_norm * norms[d])
            acc[d] = 0.0
            if score >= min_score:
                kept = _offer(scores, best, kept, score, d, limit)
        if extra:
            for d, dot in extra.items():
                score = dot / (query_norm * self._extra_norms[d - self._base])
                if score >= min_score:
                    kept = _offer(scores, best, kept, score, d, limit)
        return [(best[t], scores[t]) for t in range(kept)]

    def text(self, doc: int) -> str:
        return self._texts[doc]


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cfunc
def _offer(
    scores: cython.double[::1],
    docs: cython.int[::1],
    kept: cython.Py_ssize_t,
    score: cython.double,
    doc: cython.Py_ssize_t,
    limit: cython.Py_ssize_t,
) -> cython.Py_ssize_t:
    """Keep the `limit` best (score, doc) pairs in order, higher score first, lower doc first on a tie;
    returns how many are kept."""
    at: cython.Py_ssize_t = kept
    if kept >= limit and (score < scores[kept - 1] or (score == scores[kept - 1] and doc > docs[kept - 1])):
        return kept
    while at > 0 and (score > scores[at - 1] or (score == scores[at - 1] and doc < docs[at - 1])):
        if at < limit:
            scores[at], docs[at] = scores[at - 1], docs[at - 1]
        at -= 1
    scores[at], docs[at] = score, doc
    return min(kept + 1, limit)
