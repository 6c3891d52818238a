//! Instance-ids (the EID spaces of separate VPNs) and the LPM tables that hold them: table 0 is
//! the default instance (no instance-id, or 0), every other configured instance-id has its own
//! table. Fixed when the tables are created; data cores learn a packet's table from the port or
//! VLAN it arrived on (ITR) or from its instance-id (ETR).

/// Most instances (tables) one xTR serves. Beyond the first [`crate::lpm::DIRECT_TABLES`], an
/// empty instance costs 8 KiB of LPM roots (four LPMs, two root copies of 1 KiB each).
pub const MAX_INSTANCES: usize = 4096;

/// The instance-ids in table order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instances {
    ids: Vec<u32>,
}

/// Largest instance-id (24 bits on the wire).
pub const MAX_INSTANCE_ID: u32 = 0x00ff_ffff;

/// Why a set of instance-ids cannot have tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstancesError {
    /// More than [`MAX_INSTANCES`], the default included.
    TooMany(usize),
    /// An id wider than 24 bits.
    TooWide(u32),
}

impl std::fmt::Display for InstancesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooMany(n) => write!(
                f,
                "{n} instance-ids configured; at most {MAX_INSTANCES} are supported"
            ),
            Self::TooWide(id) => {
                write!(f, "instance-id {id} does not fit 24 bits")
            }
        }
    }
}

impl std::error::Error for InstancesError {}

impl Default for Instances {
    fn default() -> Self {
        Self { ids: vec![0] }
    }
}

impl Instances {
    /// The default instance and every distinct id of `ids`, in ascending order.
    pub fn new(ids: impl IntoIterator<Item = u32>) -> Result<Self, InstancesError> {
        let mut ids: Vec<u32> = std::iter::once(0).chain(ids).collect();
        ids.sort_unstable();
        ids.dedup();
        if let Some(&widest) = ids.last().filter(|&&id| id > MAX_INSTANCE_ID) {
            return Err(InstancesError::TooWide(widest));
        }
        if ids.len() > MAX_INSTANCES {
            return Err(InstancesError::TooMany(ids.len()));
        }
        Ok(Self { ids })
    }

    /// How many tables the instances need (at least one: the default instance).
    pub fn tables(&self) -> usize {
        self.ids.len()
    }

    /// Every instance-id served, the default one (0) included, in table order.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.ids.iter().copied()
    }

    /// The table of `instance_id` (`None` and 0 are the default instance). Inlined, with the
    /// default instance alone answered without a search: the ETR asks for every packet.
    #[inline]
    pub fn table(&self, instance_id: Option<u32>) -> Option<usize> {
        let id = instance_id.unwrap_or(0);
        if id == 0 {
            // Always there, always first (ids are sorted and hold 0).
            return Some(0);
        }
        self.ids.binary_search(&id).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_instance_is_table_zero_and_ids_are_deduplicated() {
        let instances = Instances::new([7, 3, 7, 0]).unwrap();
        assert_eq!(instances.tables(), 3);
        assert_eq!(instances.table(None), Some(0));
        assert_eq!(instances.table(Some(0)), Some(0));
        assert_eq!(instances.table(Some(7)), Some(2));
        assert_eq!(instances.table(Some(5)), None);
    }

    #[test]
    fn too_many_or_too_wide_instances_are_refused() {
        assert!(Instances::new(1..MAX_INSTANCES as u32).is_ok());
        assert_eq!(
            Instances::new(1..=MAX_INSTANCES as u32),
            Err(InstancesError::TooMany(MAX_INSTANCES + 1))
        );
        assert!(Instances::new([MAX_INSTANCE_ID]).is_ok());
        assert_eq!(
            Instances::new([MAX_INSTANCE_ID + 1]),
            Err(InstancesError::TooWide(MAX_INSTANCE_ID + 1))
        );
    }
}
