//! A set of reactor ids, as a channel's routing entry keeps it.

/// A set of reactor ids (every id is below 256: `FANOUTD_REACTORS` is at most 256).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReactorSet([u64; 4]);

impl ReactorSet {
    /// Every reactor of a server with `n` reactors.
    pub fn all(n: usize) -> ReactorSet {
        let mut s = ReactorSet::default();
        for r in 0..n.min(256) {
            s.insert(r as u8);
        }
        s
    }

    pub fn insert(&mut self, r: u8) {
        self.0[(r >> 6) as usize] |= 1 << (r & 63);
    }

    pub fn remove(&mut self, r: u8) {
        self.0[(r >> 6) as usize] &= !(1 << (r & 63));
    }

    /// Adds every member of `other`.
    pub fn union(&mut self, other: ReactorSet) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
    }

    /// The members, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &bits)| {
            let mut rest = bits;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let b = rest.trailing_zeros();
                    rest &= rest - 1;
                    (w as u32 * 64 + b) as u8
                })
            })
        })
    }
}
