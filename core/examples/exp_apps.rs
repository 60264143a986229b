//! Instruction counting for the application benchmarks (under callgrind).
#[path = "../benches/apps/mod.rs"]
#[allow(dead_code)]
mod apps;
#[path = "../benches/common/mod.rs"]
mod common;

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    match what.as_str() {
        "int-regions" => {
            let program = apps::interpreter::program(20_000);
            let mut reg = regions::Registry::new();
            println!("{:?}", apps::interpreter::run_regions(&mut reg, &program));
        }
        "int-rc" => {
            let program = apps::interpreter::program(20_000);
            println!("{:?}", apps::interpreter::run_rc(&program));
        }
        "ent-regions" => {
            let config = apps::entities::Config {
                entities: 2000,
                ticks: 100,
                respawns_per_tick: 100,
            };
            let mut reg = regions::Registry::new();
            println!("{}", apps::entities::play_regions(&mut reg, &config));
        }
        "ent-slotmap" => {
            let config = apps::entities::Config {
                entities: 2000,
                ticks: 100,
                respawns_per_tick: 100,
            };
            let mut game = apps::entities::SlotMapGame::default();
            println!("{}", game.play(&config));
        }
        _ => panic!(),
    }
}
