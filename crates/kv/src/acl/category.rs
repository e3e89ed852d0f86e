//! ACL command ids and categories: which commands `+@read`, `-@dangerous`, `+config|get` name.
//!
//! Every command raftkv serves, and every subcommand of a container command (`config|get`),
//! has an id: its index in the generated [`COMMAND_CATEGORIES`] table, which lists Redis 7.0's
//! ACL categories for it (raftkv's own `RAFTKV` family, FLUSHALL and FLUSHDB are `@admin`).
//! A user's command permissions are a [`CommandSet`] of ids, so a check is one binary search
//! of the name and one bit test.
//!
//! A container command is one whose rows are `name|sub`: `+config` means every subcommand,
//! and a call is checked as `config|<sub>`. An unknown subcommand is allowed only to a user
//! who may run every subcommand of the container (the command then fails as unknown).

pub use super::category_table::COMMAND_CATEGORIES;

/// Redis 7.0's ACL categories, in the order `ACL CAT` lists them.
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The longest `name|subcommand` any id has, in bytes; longer names are no command.
const MAX_ID_BYTES: usize = 48;

/// Words in a [`CommandSet`].
const WORDS: usize = COMMAND_CATEGORIES.len().div_ceil(64);

/// A set of command ids (a bit per row of [`COMMAND_CATEGORIES`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommandSet([u64; WORDS]);

impl CommandSet {
    /// Every command.
    pub fn all() -> CommandSet {
        let mut set = CommandSet::default();
        for id in 0..COMMAND_CATEGORIES.len() {
            set.insert(id);
        }
        set
    }

    /// True if `id` is in the set.
    pub fn contains(&self, id: usize) -> bool {
        self.0[id / 64] & (1 << (id % 64)) != 0
    }

    /// Adds `id`.
    pub fn insert(&mut self, id: usize) {
        self.0[id / 64] |= 1 << (id % 64);
    }

    /// Removes `id`.
    pub fn remove(&mut self, id: usize) {
        self.0[id / 64] &= !(1 << (id % 64));
    }

    /// Adds or removes every id in `ids`.
    pub(crate) fn set_all(&mut self, ids: impl Iterator<Item = usize>, on: bool) {
        for id in ids {
            if on {
                self.insert(id);
            } else {
                self.remove(id);
            }
        }
    }
}

/// The index of a category name (lower case, without `@`).
pub fn category_index(name: &str) -> Option<usize> {
    CATEGORIES.iter().position(|c| *c == name)
}

/// True if the command with `id` is in `category`.
pub(crate) fn in_category(id: usize, category: &str) -> bool {
    COMMAND_CATEGORIES[id].1.contains(&category)
}

/// The ids in `category`, in table order.
pub(crate) fn ids_in(category: &'static str) -> impl Iterator<Item = usize> {
    (0..COMMAND_CATEGORIES.len()).filter(move |&id| in_category(id, category))
}

/// The id of an exact table name (`get`, `config|get`), lower case.
pub(crate) fn id_of(name: &str) -> Option<usize> {
    COMMAND_CATEGORIES
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
}

/// The ids `+name` stands for: the command itself, or every subcommand of a container; empty
/// if there is no such command.
pub(crate) fn ids_of_command(name: &str) -> std::ops::Range<usize> {
    if let Some(id) = id_of(name) {
        return id..id + 1;
    }
    let prefix =
        |n: &str| n.len() > name.len() && n.starts_with(name) && n.as_bytes()[name.len()] == b'|';
    let start = COMMAND_CATEGORIES.partition_point(|(n, _)| *n < name);
    let mut end = start;
    while end < COMMAND_CATEGORIES.len() && prefix(COMMAND_CATEGORIES[end].0) {
        end += 1;
    }
    start..end
}

/// What a call is checked as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A known command or subcommand.
    Id(usize),
    /// An unknown subcommand of a container: allowed if all of `range` is.
    Container(std::ops::Range<usize>),
    /// No command raftkv knows: not checked (it fails as unknown anyway).
    Unknown,
}

/// What the call `args` (name first) is checked as, without allocating.
pub fn target(args: &[bytes::Bytes]) -> Target {
    let Some(name) = args.first() else {
        return Target::Unknown;
    };
    let mut buf = [0u8; MAX_ID_BYTES];
    if name.len() >= MAX_ID_BYTES {
        return Target::Unknown;
    }
    for (b, c) in buf.iter_mut().zip(name.iter()) {
        *b = c.to_ascii_lowercase();
    }
    let Ok(lower) = std::str::from_utf8(&buf[..name.len()]) else {
        return Target::Unknown;
    };
    if let Some(id) = id_of(lower) {
        return Target::Id(id);
    }
    let range = ids_of_command(lower);
    if range.is_empty() {
        return Target::Unknown;
    }
    let Some(sub) = args.get(1) else {
        return Target::Container(range);
    };
    let len = name.len() + 1 + sub.len();
    if len > MAX_ID_BYTES {
        return Target::Container(range);
    }
    buf[name.len()] = b'|';
    for (b, c) in buf[name.len() + 1..].iter_mut().zip(sub.iter()) {
        *b = c.to_ascii_lowercase();
    }
    match std::str::from_utf8(&buf[..len]).ok().and_then(id_of) {
        Some(id) => Target::Id(id),
        None => Target::Container(range),
    }
}

/// The ACL categories of a command that is not a container (`get`: read, string, fast), as
/// `COMMAND INFO` shows them; empty for a container or an unknown name.
pub fn categories_of(name: &str) -> &'static [&'static str] {
    id_of(name).map_or(&[], |id| COMMAND_CATEGORIES[id].1)
}

/// The name of the command with `id` (`get`, `config|get`).
pub fn name_of(id: usize) -> &'static str {
    COMMAND_CATEGORIES[id].0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_names_known_categories() {
        for pair in COMMAND_CATEGORIES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        for (name, cats) in COMMAND_CATEGORIES {
            assert!(name.len() < MAX_ID_BYTES, "{name}");
            for c in *cats {
                assert!(category_index(c).is_some(), "{name}: {c}");
            }
        }
    }

    #[test]
    fn every_served_command_has_categories() {
        for spec in crate::command_table::COMMAND_TABLE {
            assert!(
                !ids_of_command(spec.name).is_empty(),
                "{} has no ACL categories",
                spec.name
            );
        }
    }

    #[test]
    fn admin_holds_raftkv_flushall_and_config() {
        for name in [
            "raftkv",
            "flushall",
            "config|set",
            "config|get",
            "acl|setuser",
        ] {
            assert!(in_category(id_of(name).unwrap(), "admin"), "{name}");
        }
    }

    #[test]
    fn targets() {
        let args = |s: &str| {
            s.split(' ')
                .map(|a| bytes::Bytes::copy_from_slice(a.as_bytes()))
                .collect::<Vec<_>>()
        };
        assert_eq!(target(&args("GET k")), Target::Id(id_of("get").unwrap()));
        assert_eq!(
            target(&args("Config GET x")),
            Target::Id(id_of("config|get").unwrap())
        );
        assert_eq!(
            target(&args("config nosuch")),
            Target::Container(ids_of_command("config"))
        );
        assert_eq!(target(&args("nosuch")), Target::Unknown);
    }
}
