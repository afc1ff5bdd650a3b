//! The ceilings: what the RPC layer ([`echo`]: a tonic server that answers without doing anything) and the storage
//! engine ([`storage`]: raw RocksDB gets of the same records) reach alone on this machine. dancu's figures are read
//! against them: a get can be no faster than an empty RPC, nor than the RocksDB read behind it.

pub mod echo;
pub mod storage;
