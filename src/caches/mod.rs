//! OCI blob caches. STUB: the real implementation replaces this file.
