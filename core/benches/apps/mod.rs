//! Application benchmarks, each written twice: once on `regions` and once
//! the ordinary way (Rc/Vec/Box, or slotmap). Both versions of a program
//! compute the same checksum; the bench binaries check that outside timing.

pub mod entities;
pub mod interpreter;
