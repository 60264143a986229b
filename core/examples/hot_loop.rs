//! A hot loop for profilers (`perf record`, `valgrind --tool=callgrind`):
//! alloc, get and free of 16-byte objects, then region churn.
use core::alloc::Layout;
use regions::{Registry, TypeTag};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let mut reg = Registry::new();
    let root = reg.root();
    let layout = Layout::new::<[u8; 16]>();
    let mut handles = Vec::with_capacity(10_000);
    let mut sum = 0u64;
    for round in 0..rounds {
        for i in 0..10_000 {
            handles.push(reg.alloc(root, layout, &[i as u8; 16], TypeTag(1)).unwrap());
        }
        for &h in &handles {
            sum += u64::from(reg.get(h).unwrap()[round % 16]);
        }
        for h in handles.drain(..) {
            reg.free(h).unwrap();
        }
    }
    println!("{sum}");
}
