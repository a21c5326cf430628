"""The in-memory registry index and the matcher: exact code, exact name, blocked fuzzy, with evidence.

It holds every certified organisation's names (current, former, CCC parties) analysed once, so the
rules consumer matches a signal with dictionary look-ups and a small fuzzy block, no database trip.

Two candidate paths (issue 11): the structured one (code, then the name taken apart: same core, then
similar cores in small blocks) and, independent of any parse, character n-gram retrieval
(`services.rules.matcher.ngrams`). Every candidate either finds is scored by the same scorer, and one
found only by n-grams says so in its evidence (`retrieval: found by character n-grams …`). A credit code
whose check fails is looked up as a near code (one character substituted, or two adjacent ones swapped).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import cython
from rapidfuzz import fuzz, process

from services.rules.matcher.ngrams import NgramIndex
from services.rules.matcher.normalise import NameParts, analyse, analyse_once
from services.rules.matcher.pinyin import homophone
from services.rules.matcher.regions import (
    CITIES,
    PLACES,
    PLACES_SHORT,
    PROVINCES,
    place_of,
    province_of_code,
    province_of_place,
)
from shared.contracts.rules import MatchDecision, MatchEvidence, MatchSummary
from shared.identifiers import USCC_ALPHABET, code_warning, compact, quick_valid
from shared.parties import CellParty, has_roles, split_parties

BLOCK_LIMIT = 400  # a fuzzy block larger than this is too unspecific to be worth scoring
COMPACT_AFTER = 10_000  # removals before dead entries are dropped (or a tenth of the registry, if more)
NGRAM_LIMIT = 6  # names the n-gram path hands to the scorer, at most
NGRAM_MIN_COSINE = 0.4  # below this TF-IDF cosine (walked n-grams only) a name is rarely 80% similar
SIMILAR_AT = 80  # percent: below this similarity a name is no lead (the fuzzy blocks' cut-off too)
# A name one character off that sounds the same (创奇 / 床奇), found by n-grams: as similar as a 85 % name (a lead).
HOMOPHONE_SIMILARITY = 0.85
SOUNDS_AT = 70  # percent: a 4-character core one character off (75 %) is looked at for a homophone only


@dataclass(frozen=True)
class MatchThresholds:
    match: float = 0.90
    review: float = 0.60

    def decide(self, score: float) -> MatchDecision:
        if score >= self.match:
            return MatchDecision.MATCH
        return MatchDecision.REVIEW if score >= self.review else MatchDecision.NONE


class RegistryRecord(NamedTuple):
    org_id: str
    name: str
    credit_code: str | None = None
    former_names: tuple[str, ...] = ()
    address: str | None = None
    province: str | None = None
    city: str | None = None
    other_names: tuple[tuple[str, str], ...] = ()  # (role, name): CCC applicant / manufacturer / factory


class _evidence(NamedTuple):
    """One piece of evidence; a plain tuple on the hot path, a MatchEvidence model in summaries.

    Built positionally (field, how, weight, signal value, registry value): keywords double its cost."""

    field: str
    how: str
    weight: float = 0.0
    signal_value: str | None = None
    registry_value: str | None = None


class Candidate(NamedTuple):
    """One organisation a name may be; a tuple, since a screening run builds one or more per record."""

    org_id: str
    score: float
    decision: MatchDecision
    method: str
    matched_name: str
    evidence: tuple[_evidence, ...]

    @property
    def explanation(self) -> str:
        return explain(self.evidence)

    def summary(self, product_in_scope: bool | None = None) -> MatchSummary:
        return MatchSummary(
            score=round(self.score, 4),
            decision=self.decision,
            method=self.method,
            explanation=self.explanation,
            evidence=[MatchEvidence(**e._asdict()) for e in self.evidence],
            product_in_scope=product_in_scope,
        )


@cython.final
@cython.cclass
class _Org:
    """One organisation as the index holds it."""

    record: RegistryRecord = cython.declare(object, visibility="readonly")
    org_id: str = cython.declare(str, visibility="readonly")
    code: str | None = cython.declare(object, visibility="readonly")  # a valid credit code, or None
    # tuples, not frozensets: a million must stay small
    provinces: tuple[str, ...] = cython.declare(tuple, visibility="readonly")
    cities: tuple[str, ...] = cython.declare(tuple, visibility="readonly")

    def __init__(self, record: RegistryRecord, code: str | None, provinces: tuple[str, ...], cities: tuple[str, ...]):
        self.record, self.org_id, self.code = record, record.org_id, code
        self.provinces, self.cities = provinces, cities


@cython.final
@cython.cclass
class _Entry:
    """One name of one organisation (its current name, a former name, a CCC party), analysed."""

    org: cython.Py_ssize_t = cython.declare(cython.Py_ssize_t, visibility="readonly")  # the organisation's slot
    parts: NameParts = cython.declare(object, visibility="readonly")
    core: str = cython.declare(str, visibility="readonly")
    form: str = cython.declare(str, visibility="readonly")
    branch: str | None = cython.declare(object, visibility="readonly")
    role: str = cython.declare(str, visibility="readonly")  # name | former | applicant | manufacturer | factory | site
    name: str = cython.declare(str, visibility="readonly")

    def __init__(self, org: int, parts: NameParts, role: str, name: str):
        self.org, self.parts, self.core, self.form, self.branch = org, parts, parts.core, parts.form, parts.branch
        self.role, self.name = role, name


class _Block(NamedTuple):
    """Fuzzy candidates sharing a block key, with their cores alongside (scored in one call)."""

    entries: list[_Entry]
    cores: list[str]


@cython.final
@cython.cclass
class _Query:
    """A name to match, analysed, with the places it (or its address) names."""

    name: str = cython.declare(str)
    parts: NameParts = cython.declare(object)
    core: str = cython.declare(str)
    form: str = cython.declare(str)
    branch: str | None = cython.declare(object)
    code: str | None = cython.declare(object)  # a valid credit code, or None
    code_invalid: cython.bint = cython.declare(cython.bint)
    provinces: frozenset[str] = cython.declare(frozenset)
    cities: frozenset[str] = cython.declare(frozenset)
    named_cities: tuple[str, ...] = cython.declare(tuple)  # the cities the name itself carries, not its address
    named_provinces: tuple[str, ...] = cython.declare(tuple)  # the provinces the name itself carries (a city's too)
    provinces_text: str = cython.declare(str)  # as evidence shows them
    cities_text: str = cython.declare(str)

    def __init__(
        self,
        name: str,
        parts: NameParts,
        code: str | None,
        code_invalid: bool,
        provinces: tuple[str, ...],
        cities: tuple[str, ...],
    ):
        self.name, self.parts, self.core, self.form, self.branch = name, parts, parts.core, parts.form, parts.branch
        self.code, self.code_invalid = code, code_invalid
        self.provinces, self.cities, self.named_cities = frozenset(provinces), frozenset(cities), parts.cities
        self.named_provinces = parts.provinces
        self.provinces_text, self.cities_text = ",".join(provinces), ",".join(cities)


@cython.cclass
class RegistryIndex:
    """Every certified organisation's names, analysed, and the matcher over them.

    Compiled with Cython by `make install` (the hot path is typed for it); as plain Python it is the
    reference the compiled build is tested against."""

    thresholds: MatchThresholds = cython.declare(object, visibility="readonly")
    # (subject key, org id) -> confirmed?
    verdicts: dict[tuple[str, str], bool] = cython.declare(dict, visibility="public")
    _orgs: list[_Org | None] = cython.declare(list, visibility="readonly")  # by slot; None once removed
    _slot: dict[str, int] = cython.declare(dict)  # org id -> slot
    _by_code: dict[str, int] = cython.declare(dict)  # valid credit code -> slot
    # core -> entries (exact: same core, then same form)
    _by_core: dict[str, list[_Entry]] = cython.declare(dict, visibility="readonly")
    _blocks: dict[str, _Block] = cython.declare(dict)  # block key -> _Block
    # removed or replaced since the build
    _removed: cython.Py_ssize_t = cython.declare(cython.Py_ssize_t, visibility="readonly")
    _match_at: cython.double = cython.declare(cython.double)
    _review_at: cython.double = cython.declare(cython.double)
    _docs: list[_Entry] = cython.declare(list)  # n-gram document -> _Entry
    _grams: NgramIndex | None = cython.declare(object)  # None: the n-gram path is off

    def __init__(self, thresholds: MatchThresholds | None = None, ngrams: bool = True) -> None:
        """`ngrams=False` leaves the second candidate path out (benchmarks compare the two)."""
        self.thresholds = thresholds or MatchThresholds()
        self._match_at, self._review_at = self.thresholds.match, self.thresholds.review
        self.verdicts = {}
        self._orgs, self._slot, self._by_code, self._by_core, self._blocks = [], {}, {}, {}, {}
        self._removed = 0
        self._docs, self._grams = [], NgramIndex() if ngrams else None

    @classmethod
    def build(
        cls, records: Iterable[RegistryRecord], thresholds: MatchThresholds | None = None, ngrams: bool = True
    ) -> RegistryIndex:
        index: RegistryIndex = cls(thresholds, ngrams)
        # Millions of small objects and no cycles among them: the cyclic collector would rescan them all
        # again and again, tripling the build time.
        with paused_cycle_collector():
            for record in records:
                index.upsert(record)
            if index._grams is not None:
                index._grams.flush()  # the n-gram arrays now, not at the first query
            # The index lives as long as the process: keep it out of later collections, starting with
            # the one that would otherwise scan all of it the moment the collector is back on.
            gc.freeze()
        return index

    def __len__(self) -> int:
        return len(self._slot)

    def use_thresholds(self, thresholds: MatchThresholds) -> None:
        """Decide with these thresholds from now on (the evaluation's trade-off curve; no rebuild)."""
        self.thresholds = thresholds
        self._match_at, self._review_at = thresholds.match, thresholds.review

    # ------------------------------------------------------------ maintenance

    def upsert(self, record: RegistryRecord) -> None:
        """Add or replace one organisation (registry imports and edits call this)."""
        if record.org_id in self._slot:
            self.remove(record.org_id)
        slot = len(self._orgs)
        code = quick_valid(record.credit_code)  # fully checked when the registry took it in
        parts = analyse_once(record.name)
        address_province, address_city = place_of(record.address)
        province = province_of_place(record.province) or address_province or province_of_code(code)
        city = record.city or address_city
        self._orgs.append(_Org(record, code, _with(parts.provinces, province), _with(parts.cities, city)))
        self._slot[record.org_id] = slot
        if code:
            self._by_code[code] = slot
        self._add(_Entry(slot, parts, "name", record.name))
        if record.former_names or record.other_names:
            for role, name in (*(("former", n) for n in record.former_names), *record.other_names):
                self._add(_Entry(slot, analyse_once(name), role, name))

    def remove(self, org_id: str) -> None:
        slot = self._slot.pop(org_id, None)
        if slot is None:
            return
        org = self._orgs[slot]
        self._orgs[slot] = None
        self._removed += 1
        if org is not None and org.code and self._by_code.get(org.code) == slot:
            del self._by_code[org.code]
        if self._removed > max(COMPACT_AFTER, len(self._slot) // 10):
            self.compact()

    def compact(self) -> None:
        """Drop the lingering entries of removed (or replaced) organisations.

        A live registry is edited for as long as the process runs: without this, its lists would
        fill with dead entries, and a fuzzy block full of them would pass the limit and never be
        scored again. Blocks are rebuilt from the live entries, since a capped block must be counted
        again. Names are not re-analysed: about 3 s per million organisations, once per 100,000 edits there.
        """
        self._by_core = {
            core: alive for core, entries in self._by_core.items() if (alive := self._entries_alive(entries))
        }
        self._blocks = {}
        self._removed = 0
        for entry in sorted((e for entries in self._by_core.values() for e in entries), key=_slot_of):
            self._add_to_blocks(entry)
        if self._grams is not None:
            self._docs = [e for e in self._docs if self._orgs[e.org] is not None]
            self._grams.reset([_plain(e.core) for e in self._docs])

    @cython.cfunc
    def _add(self, entry: _Entry) -> cython.void:
        if not entry.core:  # a placeholder name
            return
        self._by_core.setdefault(entry.core, []).append(entry)
        self._add_to_blocks(entry)
        if self._grams is not None:
            self._docs.append(entry)
            self._grams.add(_plain(entry.core))

    @cython.cfunc
    def _add_to_blocks(self, entry: _Entry) -> cython.void:
        core = entry.core
        for key in _block_keys(core):
            block = self._blocks.get(key)
            if block is None:
                self._blocks[key] = tuple.__new__(_Block, ([entry], [core]))  # not _Block's Python constructor
            elif len(block.entries) <= BLOCK_LIMIT:  # past the limit a block is never scored: stop growing it
                block.entries.append(entry)
                block.cores.append(core)

    # ------------------------------------------------------------ matching

    def match(
        self,
        name: str,
        credit_code: str | None = None,
        address: str | None = None,
        province: str | None = None,
        limit: int = 3,
    ) -> list[Candidate]:
        """The best candidates, best first; an empty list when nothing qualifies even for review.

        A name that names its parties by role (`委托方：X；受委托方：Y`, `生产商：X；经销商：Y`,
        `进口商：X（原产国：意大利）`, `X（受托方）`) is taken apart (`shared.parties.split_parties`, with
        `address`) and matched by `match_parties`: each candidate's explanation then opens with the
        role of the party it is for. Any other name is matched as it is."""
        if _may_name_parties(name):
            parties = _role_parties(name, address)
            if parties is not None:
                return [c for _, c in self.match_parties(parties, credit_code, province, limit, name)]
        return self._match(name, credit_code, address, province, limit)

    def best(
        self, name: str, credit_code: str | None = None, address: str | None = None, province: str | None = None
    ) -> Candidate | None:
        """The best candidate (`match`'s first), or None."""
        if _may_name_parties(name):
            parties = _role_parties(name, address)
            if parties is not None:
                pairs = self.match_parties(parties, credit_code, province, 1, name)
                return pairs[0][1] if pairs else None
        found = self._match(name, credit_code, address, province, 1)
        return found[0] if found else None

    def match_parties(
        self,
        parties: Sequence[CellParty],
        credit_code: str | None = None,
        province: str | None = None,
        limit: int = 3,
        cell: str | None = None,
    ) -> list[tuple[CellParty, Candidate]]:
        """Candidates for the parties one cell names (`shared.parties.split_parties(name, address)`),
        best first, each with the party it is for; one per organisation (the best, the earlier party's
        on a tie), at most `limit`.

        Each party is matched by its own name and its own address (the one split_parties paired with
        it: an address shared by several parties is given to none). A candidate for a party with a
        role has evidence opening with a `party` item (how: the role in words, signal_value: the
        party's name), so its explanation reads `受委托方 (contract manufacturer): name: …`; a party
        with no role (a cell that names none) is matched exactly as `match` matches a name.

        One party: `credit_code` and `province` are its own, as in `match`. Several: whose code it is
        is not known, so it is never held against a party's name (a different valid code would veto
        the other party). A code in the registry still decides: its organisation goes to the party
        whose name fits it, or else to a party with no name and no role, whose `party` item says the
        code fits no party's name. `province` is not used either: it may be any one party's.

        Verdicts are looked up by each party's subject_key(party.name) (the code's, for the code's
        match) and, when `cell` (the whole name as printed) is given, by subject_key(cell, code) too.
        """
        if not parties:
            return []
        if len(parties) == 1:
            party = parties[0]
            found = [(party, c) for c in self._match(party.name, credit_code, party.address, province, limit)]
        else:
            found = self._each_party(parties, credit_code, limit)
        if cell is not None and self.verdicts:
            asked = subject_key(cell, quick_valid(credit_code) if credit_code else None)
            found = [(party, c if c.method == "verdict" else self._remembered(asked, c)) for party, c in found]
        found.sort(key=_minus_pair_score)
        return [(party, _for_party(party, c)) for party, c in found[:limit]]

    def _each_party(
        self, parties: Sequence[CellParty], credit_code: str | None, limit: int
    ) -> list[tuple[CellParty, Candidate]]:
        """Several parties: each by its name and address; a registered code to the party it fits."""
        best: dict[str, tuple[CellParty, Candidate]] = {}
        for party in parties:
            for candidate in self._match(party.name, None, party.address, None, limit):
                known = best.get(candidate.org_id)
                if known is None or candidate.score > known[1].score:
                    best[candidate.org_id] = (party, candidate)
        code = quick_valid(credit_code) if credit_code else None
        if code and code in self._by_code:
            for hit in self._match("", code, None, None, 1):
                named = best.get(hit.org_id)
                owner = named[0] if named is not None else _NO_PARTY
                best[hit.org_id] = (owner, hit)  # the code decides, whichever party's name fits how well
        return list(best.values())

    @cython.cfunc
    def _match(
        self, name: str, credit_code: str | None, address: str | None, province: str | None, limit: cython.Py_ssize_t
    ) -> list[Candidate]:
        name, code = _code_of(name, credit_code)
        if code and (slot := self._by_code.get(code)) is not None:  # decided by the code: no name analysis
            hit = self._code_match(slot, code)
            if self.verdicts:
                hit = self._remembered(subject_key(name, code), hit)
            return [hit] if hit.decision is not _NO_MATCH or hit.method == "verdict" else []
        printed: str | None = None  # a credit code whose check fails, as printed: a near code, perhaps
        if code is None:
            if credit_code:
                printed = _printed_code(credit_code)
            elif (printed := _printed_code(name)) is not None:
                name = ""  # a code pasted into the name field is no name
        q = self._query(name, code, bool(credit_code) and code is None, address, province)
        found: dict[int, Candidate] = {}
        self._collect(q, found)
        if not found and q.core:  # nothing at all: perhaps a region one character off stands in front of the core
            self._misspelt_region(q, found)
        if self._grams is not None and q.core and not _any_match(found):
            self._by_ngrams(q, found)
        if printed is not None:
            self._near_code(q, printed, found)
        ranked = list(found.values())
        if self.verdicts:
            asked = subject_key(q.name, q.code)
            ranked = [self._remembered(asked, c) for c in ranked]
        if len(ranked) > 1:
            ranked.sort(key=_minus_score)
            ranked = self._ambiguity(ranked)
        return [c for c in ranked if c.decision is not _NO_MATCH or c.method == "verdict"][:limit]

    @cython.cfunc
    def _query(
        self, name: str, code: str | None, code_invalid: bool, address: str | None, province: str | None
    ) -> _Query:
        parts = analyse_once(name)  # no cache: most names are asked once, and it would cost more than it saves
        provinces, cities = parts.provinces, parts.cities
        if province or address:
            address_province, city = place_of(address)
            named = [p for p in (province_of_place(province), address_province) if p]
            provinces = tuple(sorted({*provinces, *named}))
            if city:
                cities = tuple(sorted({*cities, city}))
        return _Query(name, parts, code, code_invalid, provinces, cities)

    @cython.cfunc
    def _collect(self, q: _Query, found: dict[int, Candidate]) -> cython.void:
        """Every candidate for `q` into `found`, the best per organisation (first come, first kept on a tie)."""
        if not q.core:  # a placeholder matches nothing
            return
        same_core = self._entries_alive(self._by_core.get(q.core, _NONE))
        exact = False
        entry: _Entry
        for entry in same_core:
            if entry.form == q.form:
                _keep(found, entry.org, self._exact(entry, q))
                exact = True
        if exact:
            return
        for entry in same_core:
            _keep(found, entry.org, self._same_core_other_form(entry, q))
        if not same_core:
            self._fuzzy(q, found)

    @cython.cfunc
    def _by_ngrams(self, q: _Query, found: dict[int, Candidate]) -> cython.void:
        """The second candidate path: the names nearest `q`'s by character n-grams (TF-IDF cosine), each
        scored by `_similar`, the fuzzy blocks' scorer. It runs for every name the structured path gives
        no `match` (a match is left alone: throughput), and a name it finds is never a match by itself."""
        text = _plain(q.core)
        if len(text) < 2:
            return
        grams = self._grams
        assert grams is not None  # asked only when the n-gram path is on
        hits = grams.search(text, NGRAM_LIMIT, NGRAM_MIN_COSINE)
        if not hits:
            return
        asked = _with_bracket_places(q)
        entry: _Entry
        for doc, cosine in hits:
            entry = self._docs[doc]
            if entry.core == q.core or self._orgs[entry.org] is None:
                continue  # the same core was scored by the structured path; a removed organisation is gone
            candidate = self._similar(entry, asked, cosine)
            if candidate is not None:
                _keep(found, entry.org, candidate)

    @cython.cfunc
    @cython.returns(object)  # the annotation is for mypy (see typings/cython)
    def _similar(self, entry: _Entry, q: _Query, cosine: cython.double) -> Candidate | None:
        """A similar name with another core (an n-gram find): a lead for review at most, like the fuzzy
        blocks' (similarity × 0.75, then codes and places, never above 0.85), or None below SIMILAR_AT.
        A legal form left unparsed (有限司, 有限公) is compared with the name; two forms that were read and
        differ are two entities, as in the fuzzy blocks. `cosine` < 0: the name was not found by n-grams."""
        if q.form != entry.form and q.form and entry.form and not _generic_form(q, entry):
            return None
        asked, registered = _plain(q.core), _plain(entry.core)
        if q.form != entry.form:
            asked, registered = asked + q.form, registered + entry.form
        ratio: cython.double = fuzz.ratio(asked, registered, score_cutoff=SIMILAR_AT)
        sounds = homophone(asked, registered) if ratio == 0.0 and cosine >= 0.0 else None
        if ratio == 0.0 and sounds is None:
            return None
        similarity: cython.double = ratio / 100 if sounds is None else HOMOPHONE_SIMILARITY
        org = self._live(entry.org)
        if sounds is None:
            how = f"similar name ({similarity:.0%}): '{asked}' vs '{registered}'"
        else:
            how = (
                f"a homophone: '{asked}' vs '{registered}', '{sounds[0]}' where '{sounds[1]}' is registered "
                f"(both read {sounds[2]}); it may be another 字号"
            )
        evidence = [
            _ev(
                "name",
                how + ("" if entry.role == "name" else f" ({_ROLE_WORDS[entry.role]})"),
                similarity,
                q.name,
                entry.name,
            )
        ]
        if cosine >= 0.0:
            evidence.append(
                _ev(
                    "retrieval",
                    f"found by character n-grams (TF-IDF cosine {cosine:.2f}), not by the structured blocks",
                    0.0,
                )
            )
        score = min(self._adjust(org, entry, q, similarity * 0.75, evidence, False), 0.85)
        return self._candidate(org, score, "name:ngram" if cosine >= 0.0 else "name:fuzzy", entry.name, evidence)

    @cython.cfunc
    def _misspelt_region(self, q: _Query, found: dict[int, Candidate]) -> cython.void:
        """A region one character off (浙扛, 鲁木齐 for 乌鲁木齐, 啊上海) is not read as a region, so it stays in
        front of the core and nothing is found. When what follows it is a registered core and it is one edit
        from a region's name (`_near_region`), the name is asked again with that region written right: what
        that finds is a lead for review at most, saying which region was read."""
        core = q.core
        k: cython.Py_ssize_t
        for k in range(2, min(7, len(core) - 3)):  # at least four characters of core left: 字号 + industry
            if core[k:] not in self._by_core:
                continue
            region = _near_region(core[:k])
            if region is None:
                continue
            read = f"the region '{region}'" if region else "a region (which one is not clear)"
            folded = q.parts.folded
            at = folded.find(core[:k])
            if at < 0:
                return
            fixed = self._query(folded[:at] + region + folded[at + k :], q.code, q.code_invalid, None, None)
            again: dict[int, Candidate] = {}
            self._collect(fixed, again)
            candidate: Candidate
            for slot, candidate in again.items():
                if candidate.decision is _NO_MATCH:
                    continue
                evidence = (
                    _ev(
                        "region",
                        f"'{core[:k]}' read as {read}, one character off: a misspelt region, or part of another 字号",
                        0.0,
                        q.name,
                        region,
                    ),
                    *candidate.evidence,
                )
                score: cython.double = min(max(candidate.score, self._review_at), self._match_at - 0.01)
                _keep(found, slot, candidate._replace(score=score, decision=_REVIEW, evidence=evidence))
            return

    @cython.cfunc
    def _near_code(self, q: _Query, printed: str, found: dict[int, Candidate]) -> cython.void:
        """A printed credit code whose check fails, looked up as a near code: every registered code one
        character substituted or two adjacent characters swapped away (`near_codes`). A near code's
        organisation is a match only when the name agrees (the name alone would match it); else it is
        for review, the explanation naming the character that differs. A name matched to another
        organisation is not vetoed by the code, but no longer automatic: review."""
        hits = []
        for variant, how in near_codes(printed):
            slot = self._by_code.get(variant)
            if slot is not None:
                hits.append((slot, how, variant))
        if not hits:
            return
        near: set[int] = set()
        names: list[str] = []
        for slot, how, variant in hits:
            org = self._live(slot)
            near.add(slot)
            names.append(org.record.name)
            known = found.get(slot)
            named = known if known is not None else self._by_name(slot, q)
            if named is not None and named.decision is _MATCH:
                item = _ev(
                    "credit_code",
                    f"one character off the registered code ({how}): a typo, and the name agrees",
                    0.3,
                    printed,
                    variant,
                )
                found[slot] = tuple.__new__(
                    Candidate,
                    (org.org_id, named.score, _MATCH, "credit_code:near", named.matched_name, (*named.evidence, item)),
                )
                continue
            agrees = "the name does not agree on its own" if q.core else "no name to confirm it"
            item = _ev(
                "credit_code",
                f"one character off the registered code ({how}); {agrees}: for review",
                0.3,
                printed,
                variant,
            )
            score: cython.double = 0.7 if named is None else max(named.score, 0.7)
            score = min(max(score, self._review_at), self._match_at - 0.01)
            evidence = (item,) if named is None else (*named.evidence, item)
            matched = org.record.name if named is None else named.matched_name
            found[slot] = tuple.__new__(Candidate, (org.org_id, score, _REVIEW, "credit_code:near", matched, evidence))
        others = "; ".join(names)
        for slot, candidate in list(found.items()):
            if slot in near or candidate.decision is not _MATCH:
                continue
            item = _ev(
                "credit_code",
                f"the printed code fails its check and is one character off another "
                f"organisation's ({others}), not this one's: a human must choose",
                -0.2,
                printed,
            )
            found[slot] = candidate._replace(
                score=min(candidate.score, self._match_at - 0.01),
                decision=_REVIEW,
                evidence=(*candidate.evidence, item),
            )

    @cython.cfunc
    @cython.returns(object)  # the annotation is for mypy (see typings/cython)
    def _by_name(self, slot: cython.Py_ssize_t, q: _Query) -> Candidate | None:
        """The best candidate for `q` among one organisation's names (a near code's), or None."""
        if not q.core:
            return None
        org = self._live(slot)
        record = org.record
        best: Candidate | None = None
        candidate: Candidate | None
        entry: _Entry
        for role, name in (("name", record.name), *(("former", n) for n in record.former_names), *record.other_names):
            entry = _Entry(slot, analyse_once(name), role, name)
            if not entry.core:
                continue
            if entry.core == q.core:
                candidate = self._exact(entry, q) if entry.form == q.form else self._same_core_other_form(entry, q)
            else:
                candidate = self._similar(entry, q, -1.0)
            if candidate is not None and (best is None or candidate[1] > best[1]):
                best = candidate
        return best

    # ------------------------------------------------------------ scoring

    @cython.cfunc
    @cython.returns(object)  # the annotation is for mypy (see typings/cython)
    def _code_match(self, slot: cython.Py_ssize_t, code: str) -> Candidate:
        org = self._live(slot)
        evidence = [_ev("credit_code", "统一社会信用代码一致 (validated code, exact)", 1.0, code, org.code)]
        warning = code_warning(code)
        if warning is not None:  # a code as issued, odd but valid (shared.identifiers): say so
            evidence.append(_ev("credit_code", warning, 0.0, code))
        return self._candidate(org, 1.0, "credit_code", org.record.name, evidence)

    @cython.cfunc
    @cython.returns(object)  # the annotation is for mypy (see typings/cython)
    def _exact(self, entry: _Entry, q: _Query) -> Candidate:
        org = self._live(entry.org)
        evidence = [
            _ev(
                "name",
                f"same 字号+行业 '{entry.core}' and form '{entry.form}'"
                + ("" if entry.role == "name" else f" ({_ROLE_WORDS[entry.role]})"),
                0.9,
                q.name,
                entry.name,
            )
        ]
        score: cython.double = 0.93 - (0.01 if entry.role != "name" else 0.0)
        asked, registered = q.branch, entry.branch
        # A branch named after this organisation has a code of its own: a different one is no veto.
        score = self._adjust(org, entry, q, score, evidence, asked is not None and registered is None)
        if asked is not None and registered is not None and asked != registered:
            score = min(score, 0.5)
            evidence.append(
                _ev(
                    "branch",
                    f"another branch ({asked or '分支机构'} vs {registered or '分支机构'}) "
                    "of the same organisation: a different legal entity",
                    -0.5,
                )
            )
        elif asked is not None and registered is None:
            score = min(score, 0.8)
            evidence.append(
                _ev(
                    "branch",
                    f"a branch ({asked or '分支机构'}) of this organisation: "
                    "its own legal entity, usually covered by the parent's certificate",
                    -0.1,
                )
            )
        elif registered is not None and asked is None:
            score = min(score, 0.8)  # a lead for review, and never a rival to the parent's own exact match
            evidence.append(
                _ev(
                    "branch",
                    f"the organisation is a registered branch ({registered or '分支机构'}) "
                    "of the one named: its parent's signal may concern it",
                    -0.1,
                )
            )
        method = "branch" if (asked is None) != (registered is None) else f"name:{entry.role}"
        return self._candidate(org, score, method, entry.name, evidence)

    @cython.cfunc
    @cython.returns(object)  # the annotation is for mypy (see typings/cython)
    def _same_core_other_form(self, entry: _Entry, q: _Query) -> Candidate:
        """Same 字号+行业 but another legal form: a workshop or sole trader is another entity; a company
        that changed 有限公司 → 股份公司 keeps its code, so that is worth a look."""
        org = self._live(entry.org)
        asked_class, registered_class = q.parts.entity_class, entry.parts.entity_class
        both_companies = asked_class == registered_class == "company"
        unprinted = asked_class == "unknown" or registered_class == "unknown"  # no form printed: no evidence either way
        score: cython.double = 0.7 if both_companies else (0.65 if unprinted else 0.3)
        if unprinted and not both_companies:
            how = f"same 字号+行业; one name prints no legal form ('{q.form}' vs '{entry.form}'): worth a look"
        else:
            how = f"same 字号+行业, form '{q.form}' vs '{entry.form}'" + (
                "" if both_companies else f": a {asked_class} entity is not the {registered_class} one"
            )
        evidence = [_ev("legal_form", how, score, q.name, entry.name)]
        score = self._adjust(org, entry, q, score, evidence, False)
        return self._candidate(org, score, "name:other_form", entry.name, evidence)

    @cython.cfunc
    def _fuzzy(self, q: _Query, found: dict[int, Candidate]) -> cython.void:
        """Similar cores in the same blocks: a typo or a dropped character is a lead, never a match. The
        blocks of an edited first character (`_second_keys`) are looked in only when the usual ones hold no
        lead: they cost a third of the screening rate when always scored, and add nothing once a lead is in."""
        seen: set[int] = set()
        key: str
        for key in _block_keys(q.core):
            self._score_block(key, q, found, seen)
        if not seen:
            for key in _second_keys(q.core):
                self._score_block(key, q, found, seen)

    @cython.cfunc
    def _score_block(self, key: str, q: _Query, found: dict[int, Candidate], seen: set[int]) -> cython.void:
        """The leads of one block into `found` (an entry in `seen` is scored once)."""
        core = q.core
        entry: _Entry
        block = self._blocks.get(key)
        if block is None or len(block.entries) > BLOCK_LIMIT:
            return
        entries, cores = block.entries, block.cores
        if self._removed:
            entries = self._entries_alive(entries)
            cores = [e.core for e in entries]
        # One C++ call scores the whole block; "one character of a four-character core is another
        # company", so below 80% nothing is a lead.
        # Below that, only a homophone of one character (创奇 / 床奇) is a lead: it may sit in the 字号.
        hits = process.extract(core, cores, scorer=fuzz.ratio, score_cutoff=SOUNDS_AT, limit=None)
        for _, ratio, at in sorted(hits, key=_position):
            entry = entries[at]
            if id(entry) in seen or entry.form != q.form:
                continue
            sounds = homophone(core, entry.core) if ratio < SIMILAR_AT else None
            if ratio < SIMILAR_AT and sounds is None:
                continue
            seen.add(id(entry))
            similarity: cython.double = ratio / 100 if sounds is None else HOMOPHONE_SIMILARITY
            org = self._live(entry.org)
            how = (
                f"similar 字号+行业 ({similarity:.0%}): '{core}' vs '{entry.core}'"
                if sounds is None
                else f"a homophone: '{core}' vs '{entry.core}', '{sounds[0]}' where '{sounds[1]}' is registered "
                f"(both read {sounds[2]}); it may be another 字号"
            )
            evidence = [_ev("name", how, similarity, q.name, entry.name)]
            score = min(self._adjust(org, entry, q, similarity * 0.75, evidence, False), 0.85)
            _keep(found, entry.org, self._candidate(org, score, "name:fuzzy", entry.name, evidence))

    @cython.cfunc
    def _adjust(
        self,
        org: _Org,
        entry: _Entry,
        q: _Query,
        score: cython.double,
        evidence: list[_evidence],
        branch_of_org: cython.bint,
    ) -> cython.double:
        """Codes, provinces and cities: agreement raises the score, contradiction sinks it. `entry` is the
        organisation's name that matched; `branch_of_org`: the name asked is a branch of that name (a
        branch is registered with its own code, so a different one is expected, not a veto)."""
        if q.code and org.code and q.code != org.code:
            if not branch_of_org:
                evidence.append(
                    _ev("credit_code", "different valid credit codes: different legal entities", -1.0, q.code, org.code)
                )
                return min(score, 0.2)
            evidence.append(
                _ev(
                    "credit_code",
                    "differs from the registered organisation's: a branch has its own code",
                    0.0,
                    q.code,
                    org.code,
                )
            )
        if q.provinces and org.provinces:
            if not q.provinces.isdisjoint(org.provinces):
                evidence.append(_ev("province", "agrees", 0.05, q.provinces_text, ",".join(org.provinces)))
                score += 0.05
            else:
                evidence.append(
                    _ev(
                        "province",
                        "contradicts: same name in another province is another company",
                        -0.5,
                        q.provinces_text,
                        ",".join(org.provinces),
                    )
                )
                return min(score, 0.45)
        named: tuple[str, ...] = entry.parts.cities
        if q.named_cities and named and _disjoint(q.named_cities, named):
            # Names are registered with a city's authority: 无锡市X电子 is not 苏州X电子 (an address in
            # another city, below, may be a production site; a name in another city is another company).
            evidence.append(
                _ev(
                    "city",
                    "contradicts: the names carry different cities, and the same 字号 "
                    "registered in another city is another company",
                    -0.5,
                    ",".join(q.named_cities),
                    ",".join(named),
                )
            )
            return min(score, 0.45)
        if (q.named_cities or named) and q.named_provinces and entry.parts.provinces:
            score = self._province_against_city(org, entry, q, score, evidence)
        if q.cities and org.cities and q.cities.isdisjoint(org.cities) and not q.provinces.isdisjoint(org.provinces):
            evidence.append(_ev("city", "contradicts", -0.2, q.cities_text, ",".join(org.cities)))
            return min(score, 0.7)
        return min(score, 0.99)

    @cython.cfunc
    def _province_against_city(
        self, org: _Org, entry: _Entry, q: _Query, score: cython.double, evidence: list[_evidence]
    ) -> cython.double:
        """Both names carry a place, one a province and the other a city of it (四川X vs 成都市X): not
        agreement (one was registered with the province's authority, the other with the city's), so
        review at most, unless an address agrees: the one given with the name asked, for a city named
        by the registry (四川X at an address in 成都), or the registry's, for a city named by the name
        asked (宁波市X for 浙江X registered in 宁波)."""
        named: tuple[str, ...] = entry.parts.cities
        if q.named_cities and named:
            return score  # both carry a city: agreed, or contradicted already
        if named:  # the registered name carries the city, the name asked only the province
            if q.cities and not q.cities.isdisjoint(org.cities):
                return score
            province, city = ",".join(q.named_provinces), ",".join(named)
        else:  # the name asked carries the city, the registered name only the province
            if org.cities and not _disjoint(q.named_cities, org.cities):
                return score
            province, city = ",".join(entry.parts.provinces), ",".join(q.named_cities)
        evidence.append(
            _ev(
                "city",
                f"not agreement: one name carries the province ({province}), the other a "
                f"city in it ({city}); a name registered with the province's authority and one "
                "registered with a city's are different companies unless a code or an address agrees",
                -0.2,
                ",".join(q.named_cities or q.named_provinces),
                ",".join(named or entry.parts.provinces),
            )
        )
        return min(score, 0.75)

    def _ambiguity(self, ranked: list[Candidate]) -> list[Candidate]:
        """Two organisations matched equally well by name: a human must choose, so neither is automatic."""
        sure = [c for c in ranked if c.decision is MatchDecision.MATCH and c.method not in ("credit_code", "verdict")]
        if len(sure) < 2 or sure[0].score - sure[1].score >= 0.04:
            return ranked
        note = _ev("ambiguity", f"{len(sure)} organisations fit this name equally well", -0.2)
        capped = {id(c) for c in sure}
        return [
            Candidate(
                c.org_id,
                min(c.score, self._match_at - 0.01),
                MatchDecision.REVIEW,
                c.method,
                c.matched_name,
                (*c.evidence, note),
            )
            if id(c) in capped
            else c
            for c in ranked
        ]

    def _remembered(self, asked: str, candidate: Candidate) -> Candidate:
        verdict = self.verdicts.get((asked, candidate.org_id))
        if verdict is None:
            return candidate
        how = "confirmed by a reviewer before" if verdict else "rejected by a reviewer before: never matched again"
        evidence = (*candidate.evidence, _ev("verdict", how, 1.0 if verdict else -1.0))
        decision = MatchDecision.MATCH if verdict else MatchDecision.NONE
        score = max(candidate.score, 0.99) if verdict else 0.0
        return Candidate(candidate.org_id, score, decision, "verdict", candidate.matched_name, evidence)

    @cython.cfunc
    @cython.returns(object)  # the annotation is for mypy (see typings/cython)
    def _candidate(
        self, org: _Org, score: cython.double, method: str, name: str, evidence: list[_evidence]
    ) -> Candidate:
        score = max(0.0, min(1.0, score))
        decision = _MATCH if score >= self._match_at else _REVIEW if score >= self._review_at else _NO_MATCH
        # Candidate's own constructor is a Python function: the tuple is made directly.
        return tuple.__new__(Candidate, (org.org_id, score, decision, method, name, tuple(evidence)))

    @cython.cfunc
    def _live(self, slot: cython.Py_ssize_t) -> _Org:
        org = self._orgs[slot]
        assert org is not None
        return org

    @cython.cfunc
    def _entries_alive(self, entries: list[_Entry]) -> list[_Entry]:
        if not self._removed:  # nothing was ever removed: every entry is alive (no copy on the hot path)
            return entries
        return [e for e in entries if self._orgs[e.org] is not None]


@cython.cfunc
def _disjoint(a: tuple[str, ...], b: tuple[str, ...]) -> cython.bint:
    """Whether two small tuples share nothing (one or two places each: no set is worth making; Cython
    turns all() over a generator into a plain loop)."""
    return all(x not in b for x in a)


_MATCH, _REVIEW, _NO_MATCH = MatchDecision.MATCH, MatchDecision.REVIEW, MatchDecision.NONE


@cython.cfunc
@cython.returns(object)  # the annotation is for mypy (see typings/cython)
def _ev(
    field: str, how: str, weight: cython.double = 0.0, signal_value: object = None, registry_value: object = None
) -> _evidence:
    """An _evidence tuple, made directly (its class's constructor is a Python function)."""
    return tuple.__new__(_evidence, (field, how, weight, signal_value, registry_value))


@cython.ccall
def explain(evidence: tuple[_evidence, ...]) -> str:
    """Evidence in one line: "name: same 字号+行业 …; province: agrees". A `party` item (the first, when a
    name named several parties: see `match_parties`) opens it: "受委托方 (contract manufacturer): name: …"."""
    if evidence and evidence[0][0] == "party":
        return f"{evidence[0][1]}: " + explain(evidence[1:])
    return "; ".join([f"{field}: {how}" for field, how, _weight, _signal, _registry in evidence])


@cython.cfunc
def _keep(found: dict[int, Candidate], slot: cython.Py_ssize_t, candidate: Candidate) -> cython.void:
    """Keep the better candidate per organisation (the first on a tie)."""
    known = found.get(slot)
    if known is None or candidate[1] > known[1]:
        found[slot] = candidate


_ROLE_WORDS = {
    "former": "former name 曾用名",
    "applicant": "CCC applicant",
    "manufacturer": "CCC manufacturer",
    "site": "production site",
    "factory": "CCC factory",
    "name": "name",
}


@cython.cfunc
def _may_name_parties(name: str) -> cython.bint:
    """A role label is followed by a colon or stands in brackets: a name with neither names no party,
    and the common case is decided here, with no regular expression."""
    return "：" in name or ":" in name or "（" in name or "(" in name


def _role_parties(name: str, address: str | None) -> list[CellParty] | None:
    """The parties a name names by their role; None when it names none (it is matched as it is)."""
    if not has_roles(name):
        return None
    parties = split_parties(name, address)
    return parties if parties and parties[0].role is not None else None


_NO_PARTY = CellParty("")  # a registered code that fits no party's name: its candidate's party


def _for_party(party: CellParty, candidate: Candidate) -> Candidate:
    """The candidate with its evidence opening with the party it is for (none for a party with no role)."""
    if party.role is not None:
        item = _ev("party", party.role_text, 0.0, party.name)
    elif party is _NO_PARTY:
        item = _ev("party", "the credit code (its organisation fits no named party's name)", 0.0)
    else:
        return candidate
    return candidate._replace(evidence=(item, *candidate.evidence))


def _minus_pair_score(pair: tuple[CellParty, Candidate]) -> float:
    return -pair[1].score


def _code_of(name: str, code_text: str | None) -> tuple[str, str | None]:
    """(name, valid code or None); a name that is itself a valid code becomes the code (Art. 23)."""
    if code_text:
        return name, quick_valid(code_text)
    if len(name) in (15, 18) and name.isascii() and name.isalnum() and (code := quick_valid(name)):
        return "", code  # the registry shows the code in place of the name
    return name, None


@contextmanager
def paused_cycle_collector() -> Iterator[None]:
    """For bulk work that makes millions of objects and no reference cycles (an index build, a screening
    run): the cyclic collector would rescan everything alive again and again, for nothing. Reference
    counting frees memory as usual meanwhile."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_NONE: list[_Entry] = []  # shared, never appended to


def _with(names: tuple[str, ...], extra: str | None) -> tuple[str, ...]:
    """The sorted tuple of `names` and `extra` (most organisations: one province, one city)."""
    if not extra or extra in names:
        return names
    return (extra,) if not names else tuple(sorted((*names, extra)))


def _slot_of(entry: _Entry) -> int:
    return entry.org


def _position(hit: tuple[str, float, int]) -> int:
    return hit[2]


def _minus_score(candidate: Candidate) -> float:
    return -candidate.score


def _block_keys(core: str) -> tuple[str, ...]:
    """The fuzzy blocks a registered core goes in: its first two characters (字号 start), its last two
    (industry), its first with its last two (`^`), and its second with its last two (`~`)."""
    if len(core) < 2:
        return ()
    if len(core) < 3:
        return (f"<{core[:2]}", f">{core[-2:]}")
    if len(core) < 4:
        return (f"<{core[:2]}", f">{core[-2:]}", f"^{core[0]}{core[-2:]}")
    return (f"<{core[:2]}", f">{core[-2:]}", f"^{core[0]}{core[-2:]}", f"~{core[1]}{core[-2:]}")


def _second_keys(core: str) -> tuple[str, ...]:
    """The other blocks a core asked is looked up in: its first and second characters with its last two in
    the other key space, so that any one character substituted, dropped, inserted, or two adjacent ones
    swapped leaves a block in common besides the industry one (test_block_keys): an edit of the first
    character meets `~` + second (a drop there: `~` + first; an insert: `^` + second), an edit of the second
    meets `^` + first, one in the last two meets the first two. So an edit still finds its name when the
    industry block (电气, 科技) is too large to be scored. The two key spaces are apart so that no block holds
    both kinds (a `^` block past the size limit would never be scored)."""
    if len(core) < 3:
        return ()
    return (f"~{core[1]}{core[-2:]}", f"~{core[0]}{core[-2:]}", f"^{core[1]}{core[-2:]}")


def _deletions(text: str) -> list[str]:
    return [text[:i] + text[i + 1 :] for i in range(len(text))]


def _region_words() -> dict[str, str]:
    """Every region's name as printed (浙江, 浙江省, 宁波市, 鄞州区, 明光) -> itself, and its one-edit neighbourhood:
    each name with one character deleted (`-` + the rest) and, for a two-character name, with one character
    unknown (`?`). A neighbour two names share names neither (""): 江? is 江苏, 江西 or 江门."""
    names = {*PROVINCES, *(p + "省" for p in PROVINCES), *CITIES, *(c + "市" for c in CITIES), *PLACES, *PLACES_SHORT}
    words: dict[str, str] = {name: name for name in names if len(name) >= 2}
    near: dict[str, str] = {}
    for name in sorted(words):
        keys = [f"-{shorter}" for shorter in _deletions(name)] if len(name) >= 3 else [f"{name[0]}?", f"?{name[1]}"]
        for key in keys:
            near[key] = name if near.get(key, name) == name else ""
    return {**near, **words}


_REGION_WORDS = _region_words()


def _near_region(text: str) -> str | None:
    """The region whose name is one edit from `text` (a character substituted, dropped or added): 浙扛 -> 浙江,
    鲁木齐 -> 乌鲁木齐, 啊上海 -> 上海; "" when several are (啊青县: 巴青县, 高青县, 丁青县); None when there is none (a
    two-character neighbour two names share, 江扛 for 江苏 or 江西, counts as none), or when `text` is a region's
    own name (read as a region already, not misspelt)."""
    if text in _REGION_WORDS and not text.startswith(("-", "?")) and "?" not in text:
        return None
    keys = [f"{text[0]}?", f"?{text[1]}"] if len(text) == 2 else [f"-{text}"]  # substituted; or one dropped
    if len(text) > 2:
        keys += [f"-{shorter}" for shorter in _deletions(text)]  # substituted
    keys += [shorter for shorter in _deletions(text) if len(shorter) >= 2]  # one added
    found = [_REGION_WORDS[key] for key in keys if key in _REGION_WORDS]
    several = "" in found and len(text) >= 3  # a neighbour of several names: a region, but which one is not clear
    options = {name for name in found if name}
    # 上海 and 上海市 are one region: the shortest spelling of each stands for it
    kept = {o for o in options if not any(o != other and o.startswith(other) for other in options)}
    if len(kept) > 1 or (several and not kept):
        return ""  # a region misspelt, but which one is not clear (啊青县: 巴青县, 高青县 or 丁青县, one changed)
    return kept.pop() if kept else None


def subject_key(name: str, code: str | None = None) -> str:
    """How a signal's subject is remembered for verdicts: its valid code, else its folded name."""
    return code or analyse(name).folded


_BRACKETED = re.compile(r"（[^（）]*）")


@cython.ccall
def _plain(core: str) -> str:
    """A core with any bracketed part taken out (宏远（浙江）照明 → 宏远照明), for n-grams and similarity:
    a region moved into brackets is no difference of name. The core itself when that leaves too little."""
    if "（" not in core:
        return core
    plain = _BRACKETED.sub("", core)
    return plain if len(plain) >= 2 else core


def _with_bracket_places(q: _Query) -> _Query:
    """`q`, with the places its core names in brackets (鼎新照明（浙江）集团) read as places it names;
    `q` itself when there are none."""
    if "（" not in q.core:
        return q
    provinces, cities = set(), set()
    for label in _BRACKETED.findall(q.core):
        province, city = place_of(label[1:-1])
        if province:
            provinces.add(province)
        if city:
            cities.add(city)
    if not provinces:
        return q
    asked: _Query = _Query(
        q.name,
        q.parts,
        q.code,
        q.code_invalid,
        tuple(sorted(provinces | q.provinces)),
        tuple(sorted(cities | q.cities)),
    )
    asked.named_cities = tuple(sorted(cities | set(q.named_cities)))
    asked.named_provinces = tuple(sorted(provinces | set(q.named_provinces)))
    return asked


@cython.cfunc
def _generic_form(q: _Query, entry: _Entry) -> cython.bint:
    """Two legal forms read differently, one the bare 公司 (有现公司 read as 公司) and both companies."""
    return (q.form == "公司" or entry.form == "公司") and q.parts.entity_class == entry.parts.entity_class


@cython.cfunc
def _any_match(found: dict[int, Candidate]) -> cython.bint:
    return any(candidate[2] is _MATCH for candidate in found.values())  # a plain loop, compiled


_CODE_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_CODE_WEIGHTS = [pow(3, i, 31) for i in range(17)]  # GB 32100: the check makes the weighted sum 0 mod 31
_CODE_INVERSES = [pow(21, i, 31) for i in range(17)]  # 21 = 3⁻¹ (mod 31)


def _printed_code(text: str | None) -> str | None:
    """`text` compacted, when it is shaped like an 18-character credit code (whatever its check)."""
    if not text or not 18 <= len(text) <= 26:
        return None
    code = compact(text)
    if len(code) != 18 or not code.isascii() or not code.isalnum() or sum(c.isdigit() for c in code) < 8:
        return None
    return code


def near_codes(printed: str) -> list[tuple[str, str]]:
    """(code, how it differs) for every valid credit code (`quick_valid`) one substitution or one
    adjacent transposition away from `printed` (an 18-character code whose check fails).

    Exact, without the 18 × 30 substitutions: the check makes the weighted sum of the 18 values 0
    (mod 31) and 31 is prime, so at each position exactly one value does it. A character outside
    the alphabet (O for 0) can only be the one substituted."""
    if len(printed) != 18:
        return []
    values = [_CODE_VALUE.get(c, -1) for c in printed]
    unknown = [i for i, v in enumerate(values) if v < 0]
    out: list[tuple[str, str]] = []
    if len(unknown) <= 1:
        total = sum(v * w for v, w in zip(values[:17], _CODE_WEIGHTS, strict=True) if v >= 0)
        check = values[17]
        for i in unknown or range(18):
            if i == 17:
                value = (31 - total % 31) % 31
            else:  # the check character is known here: an unknown one is the only one substituted
                rest = (total - (values[i] * _CODE_WEIGHTS[i] if values[i] >= 0 else 0) + check) % 31
                value = (-rest * _CODE_INVERSES[i]) % 31
            registered = USCC_ALPHABET[value]
            variant = printed[:i] + registered + printed[i + 1 :]
            if value != values[i] and quick_valid(variant) == variant:  # the shape too (a letter where none goes)
                out.append((variant, f"position {i + 1}: printed '{printed[i]}', registered '{registered}'"))
    for i in range(17):
        if printed[i] != printed[i + 1]:
            swapped = printed[:i] + printed[i + 1] + printed[i] + printed[i + 2 :]
            if quick_valid(swapped) == swapped:
                out.append(
                    (
                        swapped,
                        f"positions {i + 1}-{i + 2} swapped: printed '{printed[i : i + 2]}', "
                        f"registered '{swapped[i : i + 2]}'",
                    )
                )
    return out
