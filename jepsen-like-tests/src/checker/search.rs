//! The linearizability search for one key: Wing–Gong–Lowe with Porcupine's refinements, and a few of our own.
//!
//! The ops that must be linearized (everything that completed, see below) become call and return entries in a
//! doubly linked list sorted by time. The depth-first search walks the list from its head: at a call entry it
//! tries to linearize that op next (the model accepts it and the pair (linearized set, state) is new), and if
//! so *lifts* the op's two entries out of the list and starts again from the head; at a return entry, the op
//! that returns there should already have been linearized, so the search goes back: it pops the last op,
//! *unlifts* it and tries the entry after it. The cache of (linearized set as a bitset, model state) pairs
//! already explored is what keeps this from being exponential (Lowe's refinement, which Porcupine uses).
//!
//! Ops whose outcome is unknown (info writes and CAS) have no return: they may take effect at any time after
//! their call, or never. Porcupine gives them a return at +infinity; here they are kept out of the list and are
//! tried only when the walk reaches a return entry (so, as late as possible), and the search succeeds as soon
//! as every op that completed is linearized, so those never linearized "never took effect".
//!
//! Refinements of our own, each exact (it never loses a linearization; a test compares the search with a plain
//! search over every order on thousands of small random histories):
//! - *Sightings.* A read that observed `(v, r)` of a value `v` that only one op writes shows that this op took
//!   effect before the read completed and produced revision `r`. So an info op whose value was read is checked
//!   as an op that completed then, with that revision, and an ok write's return moves up to the read.
//! - *Observations first.* A read or failed CAS that fits the current state and may be linearized now is
//!   linearized now, and nothing else is tried at that node: it changes no state, so any valid order from here
//!   can be changed to have it first.
//! - *Classes.* Info ops with the same effect (same kind, same expected revision, a value that no read observes
//!   or the same value) are interchangeable once invoked, so they are linearized in invocation order only.
//! - *Claimed revisions.* An info op never takes a revision that an op that completed produces: revisions only
//!   grow, so that op would have nowhere to go.
//! - *Spent CAS first.* Every info op whose value no read observes leaves the same state; when an info CAS that
//!   expects the current revision is among them, it is the only one tried, since it can never take effect
//!   later while the others still can.
//!
//! Values that no checked read observes are all the same to the model (`Val::Unobserved`), which lets the cache
//! see more states as equal.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

use super::Verdict;
use crate::history::{Op, OpKind, Outcome, ReadLevel};

/// Search steps between two looks at the clock and at the cache size.
const STEPS_PER_BUDGET_CHECK: u64 = 1024;
/// Memory the cache of one search may use; past it the verdict is `Unknown`.
const CACHE_BYTES_MAX: usize = 512 << 20;
const NIL: usize = usize::MAX;
const HEAD: usize = 0;

/// Whether the linearizability search looks at this op at all (see the module docs of `checker`).
pub(super) fn is_checked(op: &Op) -> bool {
    match op.kind {
        OpKind::Read => op.outcome == Outcome::Ok && op.level != Some(ReadLevel::Stale),
        OpKind::Write => op.outcome != Outcome::Fail,
        // A failed CAS is an observation, unless it has no expected revision: then it is a failed plain write.
        OpKind::Cas => op.outcome != Outcome::Fail || op.expected_revision.is_some(),
    }
}

/// Whether one key's ops have a linearization; `Unknown` if `deadline` passes first.
pub(super) fn check_linearizable(ops: &[Op], deadline: Instant) -> Verdict {
    let search_ops = to_search_ops(ops);
    Search::new(&search_ops).run(deadline)
}

/// A register value as the model sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Val {
    Absent,
    /// Any value that no checked read observes.
    Unobserved,
    Seen(u64),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct State {
    value: Val,
    revision: u64,
}

const INITIAL_STATE: State = State { value: Val::Absent, revision: 0 };

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Step {
    Read {
        value: Val,
        revision: Option<u64>,
    },
    /// A write that took effect; `revision` is the one it produced, when known.
    Write {
        value: Val,
        revision: Option<u64>,
    },
    /// An info write: linearizing it means it took effect.
    WriteMaybe {
        value: Val,
    },
    CasOk {
        expected: u64,
        value: Val,
        revision: Option<u64>,
    },
    /// `ABORTED`: the stored revision was not `expected`.
    CasFail {
        expected: u64,
    },
    /// An info CAS: linearizing it means it took effect, so it needs the expected revision.
    CasMaybe {
        expected: u64,
        value: Val,
    },
}

impl Step {
    fn apply(self, state: State) -> Option<State> {
        let written = |value: Val, revision: Option<u64>| {
            let next = State { value, revision: state.revision + 1 };
            revision.is_none_or(|revision| revision == next.revision).then_some(next)
        };
        match self {
            Step::Read { value, revision } => {
                (state.value == value && revision.is_none_or(|revision| revision == state.revision)).then_some(state)
            }
            Step::Write { value, revision } => written(value, revision),
            Step::WriteMaybe { value } => written(value, None),
            Step::CasOk { expected, value, revision } => {
                (state.revision == expected).then(|| written(value, revision))?
            }
            Step::CasFail { expected } => (state.revision != expected).then_some(state),
            // An info CAS that would not apply is the same as one never linearized, which is always allowed.
            Step::CasMaybe { expected, value } => (state.revision == expected).then(|| written(value, None))?,
        }
    }

    /// Reads and failed CAS observe without changing anything.
    fn preserves_state(self) -> bool {
        matches!(self, Step::Read { .. } | Step::CasFail { .. })
    }

    fn is_maybe(self) -> bool {
        matches!(self, Step::WriteMaybe { .. } | Step::CasMaybe { .. })
    }
}

#[derive(Clone, Copy, Debug)]
struct SearchOp {
    step: Step,
    call_us: u64,
    /// `None`: an info op, which may take effect any time after its call, or never.
    ret_us: Option<u64>,
}

/// The first checked read (by completion) that observed a value: when it completed and the revision it saw.
#[derive(Clone, Copy, Debug)]
struct Sighting {
    complete_us: u64,
    revision: Option<u64>,
}

fn to_search_ops(ops: &[Op]) -> Vec<SearchOp> {
    let mut sightings: HashMap<u64, Sighting> = HashMap::new();
    let mut n_writers: HashMap<u64, usize> = HashMap::new();
    for op in ops.iter().filter(|op| is_checked(op)) {
        match (op.kind, op.value) {
            (OpKind::Read, Some(value)) => {
                let sighting = Sighting { complete_us: op.complete_us.max(op.invoke_us), revision: op.revision };
                let first = sightings.entry(value).or_insert(sighting);
                if sighting.complete_us < first.complete_us {
                    *first = sighting;
                }
            }
            (OpKind::Write | OpKind::Cas, Some(value)) => *n_writers.entry(value).or_default() += 1,
            _ => {}
        }
    }
    let val_of = |value: Option<u64>| match value {
        Some(value) if sightings.contains_key(&value) => Val::Seen(value),
        _ => Val::Unobserved,
    };
    let mut search_ops = Vec::with_capacity(ops.len());
    for op in ops.iter().filter(|op| is_checked(op)) {
        let call_us = op.invoke_us;
        let complete_us = op.complete_us.max(call_us);
        if op.kind == OpKind::Read {
            let step = Step::Read { value: op.value.map_or(Val::Absent, Val::Seen), revision: op.revision };
            search_ops.push(SearchOp { step, call_us, ret_us: Some(complete_us) });
            continue;
        }
        let value = val_of(op.value);
        let (step, ret_us) = match (op.expected_revision.filter(|_| op.kind == OpKind::Cas), op.outcome) {
            (None, Outcome::Ok) => (Step::Write { value, revision: op.revision }, Some(complete_us)),
            (None, _) => (Step::WriteMaybe { value }, None),
            (Some(expected), Outcome::Ok) => {
                (Step::CasOk { expected, value, revision: op.revision }, Some(complete_us))
            }
            (Some(expected), Outcome::Fail) => (Step::CasFail { expected }, Some(complete_us)),
            (Some(expected), Outcome::Info) => (Step::CasMaybe { expected, value }, None),
        };
        // Values are unique per run; when two ops write the same value, nothing is inferred from sightings.
        let sighting =
            op.value.filter(|value| n_writers.get(value) == Some(&1)).and_then(|value| sightings.get(&value));
        let search_op = SearchOp { step, call_us, ret_us };
        search_ops.push(sighting.map_or(search_op, |sighting| tighten_by_sighting(search_op, *sighting)));
    }
    search_ops
}

/// A read that observed `(v, r)` of a unique value `v` tells that the write of `v` took effect before the read
/// completed, and that it produced revision `r` (every write sets both, so the last write before the read was the
/// write of `v`). An info write becomes one that took effect, and revision-less ones get their revision, which
/// pins them to one place in the order instead of anywhere after their call. If the read was wrong, the model
/// still rejects the history: nothing else could have produced `(v, r)`.
fn tighten_by_sighting(op: SearchOp, sighting: Sighting) -> SearchOp {
    let seen_us = sighting.complete_us.max(op.call_us);
    let ret_us = Some(op.ret_us.map_or(seen_us, |ret_us| ret_us.min(seen_us)));
    let step = match op.step {
        Step::WriteMaybe { value } => Step::Write { value, revision: sighting.revision },
        Step::Write { value, revision } => Step::Write { value, revision: revision.or(sighting.revision) },
        Step::CasMaybe { expected, value } => Step::CasOk { expected, value, revision: sighting.revision },
        Step::CasOk { expected, value, revision } => {
            Step::CasOk { expected, value, revision: revision.or(sighting.revision) }
        }
        // A failed CAS wrote nothing, so whoever saw its value saw something impossible; the model tells.
        Step::CasFail { .. } | Step::Read { .. } => return op,
    };
    SearchOp { step, ret_us, ..op }
}

/// Orders entries: by time, calls before returns at the same time (so ops that touch are concurrent), then by op.
type EventKey = (u64, u8, usize);
const CALL: u8 = 0;
const RETURN: u8 = 1;

#[derive(Clone, Copy, Debug)]
enum Cursor {
    /// A node just reached: first look for an observation that fits the state.
    Node,
    /// The next entry of the list to look at.
    Entry(usize),
    /// Every call entry before the first return entry (at `boundary`) was tried: an info op must take effect
    /// now, or this node fails. Trying the info op classes, from this one on.
    Class { class_idx: usize, boundary: EventKey },
    /// This node failed: undo the last choice.
    Backtrack,
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    op: usize,
    state_before: State,
    /// For an info op: the boundary of the class scan it came from.
    boundary: EventKey,
    /// It was the only child explored at its node, so undoing it means its node failed too.
    forced: bool,
}

struct Search<'o> {
    ops: &'o [SearchOp],
    // The list: entry 0 is the head, then one call and one return entry per op that completed, sorted.
    entry_op: Vec<usize>,
    entry_key: Vec<EventKey>,
    next: Vec<usize>,
    prev: Vec<usize>,
    call_entry: Vec<usize>,
    ret_entry: Vec<usize>,
    n_must: usize,
    n_must_linearized: usize,
    // Info ops, by class, each class sorted by call time; only the first `class_n_linearized` are linearized.
    classes: Vec<Vec<usize>>,
    class_of: Vec<usize>,
    class_n_linearized: Vec<usize>,
    /// Whether a class's value is one that no read observed.
    class_is_unobserved: Vec<bool>,
    /// The class of the info CAS whose value no read observed, by expected revision.
    unobserved_cas_class_by_expected: HashMap<u64, usize>,
    /// The revisions that ops that completed produce (when known).
    claimed_revisions: HashSet<u64>,
    linearized: Vec<u64>,
    linearized_hash: u64,
    state: State,
    stack: Vec<Frame>,
    cache: Cache,
}

impl<'o> Search<'o> {
    fn new(ops: &'o [SearchOp]) -> Self {
        let mut keys: Vec<EventKey> = Vec::with_capacity(2 * ops.len());
        for (op_idx, op) in ops.iter().enumerate() {
            if let Some(ret_us) = op.ret_us {
                assert!(ret_us >= op.call_us, "an op returns after its call");
                keys.push((op.call_us, CALL, op_idx));
                keys.push((ret_us, RETURN, op_idx));
            }
        }
        keys.sort_unstable();
        let n_entries = keys.len() + 1;
        let mut entry_op = vec![NIL; n_entries];
        let mut entry_key = vec![(0, CALL, NIL); n_entries];
        let mut call_entry = vec![NIL; ops.len()];
        let mut ret_entry = vec![NIL; ops.len()];
        for (key_idx, &key) in keys.iter().enumerate() {
            let entry = key_idx + 1;
            entry_op[entry] = key.2;
            entry_key[entry] = key;
            if key.1 == CALL {
                call_entry[key.2] = entry
            } else {
                ret_entry[key.2] = entry
            }
        }
        let next = (0..n_entries).map(|entry| if entry + 1 < n_entries { entry + 1 } else { NIL }).collect();
        let prev = (0..n_entries).map(|entry| entry.checked_sub(1).unwrap_or(NIL)).collect();
        let (classes, class_of) = info_op_classes(ops);
        let n_words = ops.len().div_ceil(64);
        let class_is_unobserved = classes
            .iter()
            .map(|members| {
                matches!(
                    ops[members[0]].step,
                    Step::WriteMaybe { value: Val::Unobserved } | Step::CasMaybe { value: Val::Unobserved, .. }
                )
            })
            .collect();
        let unobserved_cas_class_by_expected = (0..classes.len())
            .filter_map(|class_idx| match ops[classes[class_idx][0]].step {
                Step::CasMaybe { expected, value: Val::Unobserved } => Some((expected, class_idx)),
                _ => None,
            })
            .collect();
        let claimed_revisions = ops
            .iter()
            .filter(|op| op.ret_us.is_some())
            .filter_map(|op| match op.step {
                Step::Write { revision, .. } | Step::CasOk { revision, .. } => revision,
                _ => None,
            })
            .collect();
        Search {
            ops,
            entry_op,
            entry_key,
            next,
            prev,
            call_entry,
            ret_entry,
            n_must: keys.len() / 2,
            n_must_linearized: 0,
            class_n_linearized: vec![0; classes.len()],
            classes,
            class_of,
            claimed_revisions,
            class_is_unobserved,
            unobserved_cas_class_by_expected,
            linearized: vec![0; n_words],
            linearized_hash: 0,
            state: INITIAL_STATE,
            stack: Vec::new(),
            cache: Cache::new(n_words),
        }
    }

    fn run(&mut self, deadline: Instant) -> Verdict {
        if self.n_must == 0 {
            return Verdict::Valid;
        }
        let mut cursor = Cursor::Node;
        let mut n_steps: u64 = 0;
        loop {
            n_steps += 1;
            if n_steps.is_multiple_of(STEPS_PER_BUDGET_CHECK)
                && (Instant::now() >= deadline || self.cache.bytes() > CACHE_BYTES_MAX)
            {
                return Verdict::Unknown;
            }
            cursor = match cursor {
                Cursor::Node => match self.fitting_observation() {
                    // Linearizing it first is as good as anything else here, so it is the only child explored;
                    // if the cache has seen that child, it failed, and so does this node.
                    Some((op, entry)) if self.try_linearize(op, self.entry_key[entry], true) => {
                        if self.n_must_linearized == self.n_must {
                            return Verdict::Valid;
                        }
                        Cursor::Node
                    }
                    Some(_) => Cursor::Backtrack,
                    None => Cursor::Entry(self.next[HEAD]),
                },
                Cursor::Entry(entry) => {
                    // An op that completed is not linearized yet, so its return entry lies ahead.
                    assert_ne!(entry, NIL, "the search ran past the end of the list");
                    let (_, kind, op) = self.entry_key[entry];
                    if kind == RETURN {
                        Cursor::Class { class_idx: 0, boundary: self.entry_key[entry] }
                    } else if self.try_linearize(op, self.entry_key[entry], false) {
                        if self.n_must_linearized == self.n_must {
                            return Verdict::Valid;
                        }
                        Cursor::Node
                    } else {
                        Cursor::Entry(self.next[entry])
                    }
                }
                Cursor::Class { class_idx, .. } if class_idx == self.classes.len() => Cursor::Backtrack,
                Cursor::Class { class_idx, boundary } => match self.class_candidate(class_idx, boundary) {
                    Some(op) if self.try_linearize(op, boundary, false) => Cursor::Node,
                    _ => Cursor::Class { class_idx: class_idx + 1, boundary },
                },
                Cursor::Backtrack => match self.backtrack() {
                    Some(cursor) => cursor,
                    None => return Verdict::Invalid,
                },
            };
        }
    }

    /// A callable op that leaves the state as it is (a read, a failed CAS) and fits the current state, with its
    /// call entry. Linearizing such an op next loses nothing: in any valid order from here it can be moved to the
    /// front, since it changes no state and every op that had to precede it already does.
    fn fitting_observation(&self) -> Option<(usize, usize)> {
        let mut entry = self.next[HEAD];
        while entry != NIL {
            let (_, kind, op) = self.entry_key[entry];
            if kind == RETURN {
                return None;
            }
            let step = self.ops[op].step;
            if step.preserves_state() && step.apply(self.state).is_some() {
                return Some((op, entry));
            }
            entry = self.next[entry];
        }
        None
    }

    /// The next info op of a class that is worth trying now, if any:
    /// - it was invoked before `boundary`;
    /// - the revision it would produce is not one that an op that completed produces: revisions only grow, so
    ///   taking that revision would leave that op nowhere to go;
    /// - among info ops whose value no read observed, which all leave the same state, only an info CAS that
    ///   expects the current revision is tried when there is one: it can never take effect later, while any
    ///   other may still be needed later, so using it loses nothing.
    fn class_candidate(&self, class_idx: usize, boundary: EventKey) -> Option<usize> {
        if self.claimed_revisions.contains(&(self.state.revision + 1)) {
            return None;
        }
        let dominant_class_idx = self
            .unobserved_cas_class_by_expected
            .get(&self.state.revision)
            .copied()
            .filter(|&dominant_class_idx| self.next_in_class(dominant_class_idx, boundary).is_some());
        if dominant_class_idx.is_some_and(|dominant| dominant != class_idx && self.class_is_unobserved[class_idx]) {
            return None;
        }
        self.next_in_class(class_idx, boundary)
    }

    /// The first info op of a class not linearized yet, if it was invoked before `boundary`.
    fn next_in_class(&self, class_idx: usize, boundary: EventKey) -> Option<usize> {
        let op = *self.classes[class_idx].get(self.class_n_linearized[class_idx])?;
        ((self.ops[op].call_us, CALL, op) < boundary).then_some(op)
    }

    /// Linearizes `op` next if the model accepts it and the resulting (set, state) is not in the cache yet.
    fn try_linearize(&mut self, op: usize, boundary: EventKey, forced: bool) -> bool {
        let Some(state) = self.ops[op].step.apply(self.state) else { return false };
        self.flip(op);
        let key_hash = splitmix64(self.linearized_hash ^ state_hash(state));
        if !self.cache.insert_if_new(key_hash, &self.linearized, state) {
            self.flip(op);
            return false;
        }
        self.stack.push(Frame { op, state_before: self.state, boundary, forced });
        self.state = state;
        if self.ops[op].ret_us.is_some() {
            self.lift(self.call_entry[op]);
            self.n_must_linearized += 1;
        } else {
            let class_idx = self.class_of[op];
            assert_eq!(self.classes[class_idx][self.class_n_linearized[class_idx]], op);
            self.class_n_linearized[class_idx] += 1;
        }
        true
    }

    /// Undoes the last linearization that has siblings left to try (and every forced one after it); returns where
    /// to go on from, or `None` when there is nothing left to undo.
    fn backtrack(&mut self) -> Option<Cursor> {
        loop {
            let frame = self.stack.pop()?;
            self.state = frame.state_before;
            self.flip(frame.op);
            let cursor = if self.ops[frame.op].ret_us.is_some() {
                let call_entry = self.call_entry[frame.op];
                self.unlift(call_entry);
                self.n_must_linearized -= 1;
                Cursor::Entry(self.next[call_entry])
            } else {
                let class_idx = self.class_of[frame.op];
                self.class_n_linearized[class_idx] -= 1;
                assert_eq!(self.classes[class_idx][self.class_n_linearized[class_idx]], frame.op);
                Cursor::Class { class_idx: class_idx + 1, boundary: frame.boundary }
            };
            if !frame.forced {
                return Some(cursor);
            }
        }
    }

    fn flip(&mut self, op: usize) {
        self.linearized[op / 64] ^= 1 << (op % 64);
        self.linearized_hash ^= splitmix64(op as u64 ^ 0x5bd1_e995_0000_0000);
    }

    /// Takes an op's call entry and return entry out of the list.
    fn lift(&mut self, call_entry: usize) {
        let ret_entry = self.ret_entry[self.entry_op[call_entry]];
        self.unlink(call_entry);
        self.unlink(ret_entry);
    }

    /// Puts them back, in the reverse order (the search undoes lifts last in, first out).
    fn unlift(&mut self, call_entry: usize) {
        let ret_entry = self.ret_entry[self.entry_op[call_entry]];
        self.relink(ret_entry);
        self.relink(call_entry);
    }

    fn unlink(&mut self, entry: usize) {
        let (prev, next) = (self.prev[entry], self.next[entry]);
        self.next[prev] = next;
        if next != NIL {
            self.prev[next] = prev;
        }
    }

    fn relink(&mut self, entry: usize) {
        let (prev, next) = (self.prev[entry], self.next[entry]);
        self.next[prev] = entry;
        if next != NIL {
            self.prev[next] = entry;
        }
    }
}

/// Groups the info ops into classes of interchangeable ops, each sorted by call time.
fn info_op_classes(ops: &[SearchOp]) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut class_by_step: HashMap<StepKey, usize> = HashMap::new();
    let mut classes: Vec<Vec<usize>> = Vec::new();
    let mut class_of = vec![NIL; ops.len()];
    for (op_idx, op) in ops.iter().enumerate().filter(|(_, op)| op.ret_us.is_none()) {
        assert!(op.step.is_maybe(), "only info ops have no return");
        let class_idx = *class_by_step.entry(StepKey::of(op.step)).or_insert_with(|| {
            classes.push(Vec::new());
            classes.len() - 1
        });
        classes[class_idx].push(op_idx);
        class_of[op_idx] = class_idx;
    }
    for class in &mut classes {
        class.sort_by_key(|&op_idx| (ops[op_idx].call_us, op_idx));
    }
    (classes, class_of)
}

/// What makes two info ops interchangeable: the same kind, expected revision and value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct StepKey {
    expected: Option<u64>,
    value: Option<u64>,
    value_seen: bool,
}

impl StepKey {
    fn of(step: Step) -> StepKey {
        let (expected, value) = match step {
            Step::WriteMaybe { value } => (None, value),
            Step::CasMaybe { expected, value } => (Some(expected), value),
            _ => unreachable!("only info ops have classes"),
        };
        match value {
            Val::Seen(value) => StepKey { expected, value: Some(value), value_seen: true },
            Val::Absent | Val::Unobserved => StepKey { expected, value: None, value_seen: false },
        }
    }
}

/// The explored (linearized set, state) pairs; the sets are stored back to back in one vector.
struct Cache {
    n_words: usize,
    words: Vec<u64>,
    states: Vec<State>,
    /// The next entry with the same hash, or `u32::MAX`.
    chain: Vec<u32>,
    first: HashMap<u64, u32, BuildHasherDefault<PassThroughHasher>>,
}

impl Cache {
    fn new(n_words: usize) -> Self {
        Cache { n_words, words: Vec::new(), states: Vec::new(), chain: Vec::new(), first: HashMap::default() }
    }

    fn insert_if_new(&mut self, hash: u64, linearized: &[u64], state: State) -> bool {
        debug_assert_eq!(linearized.len(), self.n_words);
        let mut cursor = self.first.get(&hash).copied().unwrap_or(u32::MAX);
        while cursor != u32::MAX {
            let idx = cursor as usize;
            if self.states[idx] == state && self.words[idx * self.n_words..(idx + 1) * self.n_words] == *linearized {
                return false;
            }
            cursor = self.chain[idx];
        }
        let idx = u32::try_from(self.states.len()).expect("the cache byte bound keeps entries under u32::MAX");
        self.words.extend_from_slice(linearized);
        self.states.push(state);
        self.chain.push(self.first.insert(hash, idx).unwrap_or(u32::MAX));
        true
    }

    fn bytes(&self) -> usize {
        self.words.capacity() * 8
            + self.states.capacity() * std::mem::size_of::<State>()
            + self.chain.capacity() * 4
            + self.first.capacity() * 16
    }
}

/// The cache's keys are already well mixed hashes: use them as they are.
#[derive(Default)]
struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

fn state_hash(state: State) -> u64 {
    let value = match state.value {
        Val::Absent => 0,
        Val::Unobserved => 1,
        Val::Seen(value) => splitmix64(value) | 2,
    };
    splitmix64(value ^ splitmix64(state.revision ^ 0x2545_f491_4f6c_dd1d))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(value: Option<u64>, revision: u64, call_us: u64, ret_us: u64) -> SearchOp {
        let step = Step::Read { value: value.map_or(Val::Absent, Val::Seen), revision: Some(revision) };
        SearchOp { step, call_us, ret_us: Some(ret_us) }
    }

    fn write(value: u64, revision: u64, call_us: u64, ret_us: u64) -> SearchOp {
        SearchOp {
            step: Step::Write { value: Val::Seen(value), revision: Some(revision) },
            call_us,
            ret_us: Some(ret_us),
        }
    }

    fn check(ops: &[SearchOp], expected: Verdict) {
        let far = Instant::now() + std::time::Duration::from_secs(60);
        assert_eq!(Search::new(ops).run(far), expected, "{ops:?}");
    }

    #[test]
    fn model_steps() {
        let start = INITIAL_STATE;
        let one = State { value: Val::Seen(7), revision: 1 };
        assert_eq!(Step::Read { value: Val::Absent, revision: Some(0) }.apply(start), Some(start));
        assert_eq!(Step::Read { value: Val::Absent, revision: Some(1) }.apply(start), None);
        assert_eq!(Step::Write { value: Val::Seen(7), revision: Some(1) }.apply(start), Some(one));
        assert_eq!(Step::Write { value: Val::Seen(7), revision: Some(2) }.apply(start), None);
        assert_eq!(Step::CasOk { expected: 1, value: Val::Seen(7), revision: None }.apply(start), None);
        assert_eq!(Step::CasFail { expected: 0 }.apply(start), None);
        assert_eq!(Step::CasFail { expected: 1 }.apply(start), Some(start));
        assert_eq!(Step::CasMaybe { expected: 0, value: Val::Seen(7) }.apply(start), Some(one));
        assert_eq!(Step::CasMaybe { expected: 3, value: Val::Seen(7) }.apply(start), None);
        // No read can match a value that no read observed.
        let unobserved = State { value: Val::Unobserved, revision: 1 };
        assert_eq!(Step::Read { value: Val::Seen(7), revision: Some(1) }.apply(unobserved), None);
    }

    #[test]
    fn sequential_and_concurrent_histories() {
        check(&[write(1, 1, 0, 10), read(Some(1), 1, 20, 30)], Verdict::Valid);
        check(&[read(Some(1), 1, 0, 10), write(1, 1, 20, 30)], Verdict::Invalid);
        // Overlapping: the read may go first.
        check(&[write(1, 1, 0, 10), read(None, 0, 5, 15)], Verdict::Valid);
        // Touching at one instant counts as concurrent.
        check(&[read(Some(1), 1, 0, 10), write(1, 1, 10, 30)], Verdict::Valid);
        check(&[], Verdict::Valid);
    }

    #[test]
    fn info_ops_may_apply_late_or_never_and_are_symmetric() {
        let maybe = |value: Val, call_us| SearchOp { step: Step::WriteMaybe { value }, call_us, ret_us: None };
        // Forty interchangeable unknown writes, then a read of a value nobody wrote: invalid after trying each count.
        let mut ops: Vec<SearchOp> = (0..40).map(|idx| maybe(Val::Unobserved, idx)).collect();
        ops.push(read(Some(5), 3, 100, 110));
        check(&ops, Verdict::Invalid);
        // Three of them took effect before write 9, up to all the other 37 after it.
        ops.pop();
        ops.push(write(9, 4, 100, 110));
        ops.push(read(Some(9), 4, 120, 130));
        check(&ops, Verdict::Valid);
        ops.push(write(10, 42, 160, 170));
        check(&ops, Verdict::Valid);
        ops.pop();
        ops.push(write(10, 43, 160, 170));
        check(&ops, Verdict::Invalid);
    }

    #[test]
    fn an_expired_deadline_gives_unknown_never_valid() {
        // Enough concurrent writes without revisions that the search needs more than one budget check.
        let ops: Vec<SearchOp> = (0..40)
            .map(|idx| SearchOp {
                step: Step::Write { value: Val::Unobserved, revision: None },
                call_us: 0,
                ret_us: Some(100 + idx),
            })
            .chain([read(Some(1), 1, 200, 210)])
            .collect();
        assert_eq!(Search::new(&ops).run(Instant::now()), Verdict::Unknown);
    }
}
