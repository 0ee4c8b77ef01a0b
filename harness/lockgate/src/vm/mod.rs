//! Boot: QEMU under rexpect, with the accelerator chosen (and KVM hangs detected) per host.

pub mod accel;
pub mod console;
pub mod guests;
pub mod interact;
pub mod order;
pub mod qemu;
