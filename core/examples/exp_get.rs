use core::alloc::Layout;
use regions::{ObjectHandle, Registry, TypeTag};
use slotmap::{DefaultKey, SlotMap};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(100_000, |a| a.parse().unwrap());
    let mut reg = Registry::new();
    let r = reg.create_region(reg.root()).unwrap();
    let layout = Layout::new::<[u8; 16]>();
    let hs: Vec<ObjectHandle> = (0..n)
        .map(|i| reg.alloc(r, layout, &[i as u8; 16], TypeTag(1)).unwrap())
        .collect();
    let mut map: SlotMap<DefaultKey, [u8; 16]> = SlotMap::new();
    let ks: Vec<DefaultKey> = (0..n).map(|i| map.insert([i as u8; 16])).collect();
    fn sum<K: Copy>(keys: &[K], read: impl Fn(K) -> u8) -> u64 {
        let mut s = 0u64;
        for &k in keys {
            s += u64::from(read(k));
        }
        s
    }
    for round in 0..3 {
        let t = Instant::now();
        let mut s = 0u64;
        for _ in 0..(10_000_000 / n) {
            s += sum(&hs, |h| reg.get(h).unwrap()[0]);
        }
        let a = t.elapsed().as_secs_f64() / ((10_000_000 / n * n) as f64) * 1e9;
        black_box(s);
        let t = Instant::now();
        let mut s = 0u64;
        for _ in 0..(10_000_000 / n) {
            s += sum(&ks, |k| map.get(k).unwrap()[0]);
        }
        let b = t.elapsed().as_secs_f64() / ((10_000_000 / n * n) as f64) * 1e9;
        black_box(s);
        let t = Instant::now();
        let mut s = 0u64;
        for _ in 0..(10_000_000 / n) {
            for &h in &hs {
                if let Ok(b) = reg.get(h) {
                    s += u64::from(b.first().copied().unwrap_or(0));
                }
            }
        }
        let c = t.elapsed().as_secs_f64() / ((10_000_000 / n * n) as f64) * 1e9;
        black_box(s);
        println!("round {round}: regions {a:.2} ns, slotmap {b:.2} ns, regions-nopanic {c:.2}");
    }
}
