//! Instruction counting harness (run under callgrind).
use core::alloc::Layout;
use regions::{ObjectHandle, Registry, TypeTag};
use std::hint::black_box;

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    let mut reg = Registry::new();
    let root = reg.root();
    match what.as_str() {
        "churn" => {
            let layout = Layout::new::<[u64; 6]>();
            for _ in 0..200 {
                let r = reg.create_region(root).unwrap();
                for i in 0..1000u64 {
                    black_box(
                        reg.alloc(r, layout, black_box(&[i as u8; 48]), TypeTag(1))
                            .unwrap(),
                    );
                }
                reg.release_region(r).unwrap();
            }
        }
        "alloc" => {
            let layout = Layout::new::<[u8; 16]>();
            let r = reg.create_region(root).unwrap();
            let mut hs: Vec<ObjectHandle> = Vec::with_capacity(10_000);
            for _ in 0..20 {
                for i in 0..10_000 {
                    hs.push(reg.alloc(r, layout, &[i as u8; 16], TypeTag(1)).unwrap());
                }
                for h in hs.drain(..) {
                    reg.free(h).unwrap();
                }
            }
        }
        "get" => {
            let layout = Layout::new::<[u8; 16]>();
            let r = reg.create_region(root).unwrap();
            let hs: Vec<ObjectHandle> = (0..10_000)
                .map(|i| reg.alloc(r, layout, &[i as u8; 16], TypeTag(1)).unwrap())
                .collect();
            let mut s = 0u64;
            for _ in 0..100 {
                for &h in &hs {
                    s += u64::from(reg.get(h).unwrap()[0]);
                }
            }
            black_box(s);
        }
        _ => panic!("churn|alloc|get"),
    }
}
