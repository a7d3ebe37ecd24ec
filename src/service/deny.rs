//! The operator's deny-list of target domains, read from a file at start
//! and again on SIGHUP (a failed reload keeps the list in force).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::{Service, ServiceError, ServiceResult};
use crate::domain::{DenyList, TargetUrl};

/// The list in force and the file it came from.
#[derive(Default)]
pub(crate) struct DenyListFile {
    path: Option<PathBuf>,
    list: RwLock<Arc<DenyList>>,
}

fn read(path: &Path) -> std::io::Result<DenyList> {
    Ok(DenyList::parse(&std::fs::read_to_string(path)?))
}

impl DenyListFile {
    pub(crate) fn load(path: Option<PathBuf>) -> std::io::Result<Self> {
        let list = match &path {
            Some(path) => read(path)?,
            None => DenyList::default(),
        };
        Ok(Self {
            path,
            list: RwLock::new(Arc::new(list)),
        })
    }

    fn current(&self) -> Arc<DenyList> {
        match self.list.read() {
            Ok(list) => list.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl Service {
    /// Refuses a target on the deny-list (400, like any invalid URL).
    pub(crate) fn check_target(&self, target: &TargetUrl) -> ServiceResult<()> {
        self.deny
            .current()
            .check(target)
            .map_err(ServiceError::Invalid)
    }

    /// Reads the deny-list file again; returns how many domains it holds.
    pub fn reload_deny_list(&self) -> std::io::Result<usize> {
        let Some(path) = &self.deny.path else {
            return Ok(0);
        };
        let list = read(path)?;
        let count = list.len();
        match self.deny.list.write() {
            Ok(mut current) => *current = Arc::new(list),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(list),
        }
        Ok(count)
    }
}
