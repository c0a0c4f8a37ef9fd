//! Memory planning: each slot gets an arena offset such that slots alive at the same time never
//! overlap. A slot is alive from the step that writes it through the last step that reads it,
//! both inclusive, so no step ever writes over one of its own inputs.
//!
//! Placement is greedy, largest first, at the lowest offset that fits between the slots already
//! placed whose lifetimes overlap (the usual heuristic for offline buffer sharing).

use crate::plan::{Slot, Step};

/// Offsets are multiples of this many floats (64 bytes, a cache line).
pub const ALIGN: usize = 16;

/// Assign offsets; returns (arena length, sum of all slot lengths), in floats.
pub fn assign(slots: &mut [Slot], steps: &[Step]) -> (usize, usize) {
    let mut first = vec![usize::MAX; slots.len()];
    let mut last = vec![0usize; slots.len()];
    for (index, step) in steps.iter().enumerate() {
        for slot in step.sources().into_iter().chain(step.destination()) {
            first[slot] = first[slot].min(index);
            last[slot] = last[slot].max(index);
        }
    }
    let size = |slot: &Slot| slot.layout.len().div_ceil(ALIGN) * ALIGN;
    let mut order: Vec<usize> = (0..slots.len()).collect();
    order.sort_by_key(|&s| std::cmp::Reverse(size(&slots[s])));
    let mut placed: Vec<usize> = Vec::new();
    let mut arena_len = 0;
    for s in order {
        let len = size(&slots[s]);
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&p| first[p] <= last[s] && first[s] <= last[p])
            .map(|&p| (slots[p].offset, slots[p].offset + size(&slots[p])))
            .collect();
        busy.sort_unstable();
        let mut offset = 0;
        for (start, end) in busy {
            if offset + len <= start {
                break;
            }
            offset = offset.max(end);
        }
        slots[s].offset = offset;
        arena_len = arena_len.max(offset + len);
        placed.push(s);
    }
    let unshared = slots.iter().map(size).sum();
    (arena_len, unshared)
}
