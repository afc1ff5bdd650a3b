//! The ceilings: what the RPC layer ([`echo`]: a tonic server that answers without doing anything) and the storage
//! engine ([`storage`]: raw RocksDB gets of the same records; [`import_writes`]: raw RocksDB writing what three
//! replicas store for an import) reach alone on this machine. dancu's figures are read against them: a get can be
//! no faster than an empty RPC, nor than the RocksDB read behind it; a load no faster than the writes behind it.

pub mod echo;
pub mod import_writes;
pub mod storage;
