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
        "mixed" => {
            let mut sizes = Vec::new();
            let mut x: u64 = 12345;
            for _ in 0..100_000 {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                let low = 8usize << (x % 8);
                let high = (2 * low).min(2000);
                sizes.push(low + (x >> 8) as usize % (high - low + 1));
            }
            let source: Vec<u8> = (0..2000).map(|i| i as u8).collect();
            for r in 0..100 {
                let region = reg.create_region(root).unwrap();
                for i in r * 1000..(r + 1) * 1000 {
                    let layout = Layout::from_size_align(sizes[i], 8).unwrap();
                    black_box(reg.alloc(region, layout, &source[..sizes[i]], TypeTag(1)).unwrap());
                }
                reg.release_region(region).unwrap();
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
