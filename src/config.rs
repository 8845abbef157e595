//! Config file. STUB: the real implementation replaces this file.
