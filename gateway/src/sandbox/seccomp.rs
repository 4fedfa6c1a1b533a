//! The seccomp filters a run installs on itself (inside the sandbox helper): the
//! system calls that reach into other processes or the kernel's configuration
//! fail with `EPERM`; `io_uring` and `clone3` fail with `ENOSYS` so runtimes fall
//! back to calls the filter can inspect; sockets only of the families a run uses
//! (Unix, IPv4, IPv6); and on x86-64 every x32 system call (numbers with bit 30
//! set), which the per-call rules would not see.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

/// Calls refused outright.
const DENIED: &[libc::c_long] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    // A copy of another process's descriptor (the CLI's stdout socket, say).
    libc::SYS_pidfd_getfd,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_mount_setattr,
    libc::SYS_open_by_handle_at,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_iopl,
    libc::SYS_ioperm,
];

/// Calls that should look absent.
const ABSENT: &[libc::c_long] =
    &[libc::SYS_io_uring_setup, libc::SYS_io_uring_enter, libc::SYS_io_uring_register, libc::SYS_clone3];

/// The socket families a run may create; any other fails with `EPERM`.
const ALLOWED_FAMILIES: [libc::c_int; 3] = [libc::AF_UNIX, libc::AF_INET, libc::AF_INET6];

/// Namespace flags `clone` may not use.
const NAMESPACE_FLAGS: [libc::c_int; 7] = [
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWCGROUP,
];

/// Installs both filters on the calling thread (inherited by what it executes).
/// `no_datagrams`: also refuse UDP and raw IP sockets (where the run shares the
/// host's network, so DNS cannot carry data out).
pub fn install(no_datagrams: bool) -> Result<(), String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    let absent: BTreeMap<i64, Vec<SeccompRule>> = ABSENT.iter().map(|call| (*call, Vec::new())).collect();
    let absent = SeccompFilter::new(absent, SeccompAction::Allow, SeccompAction::Errno(libc::ENOSYS as u32), arch)
        .map_err(|e| e.to_string())?;
    let denied = SeccompFilter::new(
        denied_rules(no_datagrams)?,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    for filter in [absent, denied] {
        let program: BpfProgram = filter.try_into().map_err(|e: seccompiler::BackendError| e.to_string())?;
        seccompiler::apply_filter(&program).map_err(|e| e.to_string())?;
    }
    #[cfg(target_arch = "x86_64")]
    seccompiler::apply_filter(&no_x32()).map_err(|e| e.to_string())?;
    Ok(())
}

/// The filter Claude Code (and all it starts) gets on top of [`install`]'s where runs
/// share the host's file system and user (`mode = "landlock"`): no Unix socket of its
/// own, and no socket pair but stream and seqpacket ones (the others can still be
/// pointed at a path).
/// Landlock (through ABI 7) does not govern connecting to a socket by its path, so
/// otherwise a run reaches every pathname socket the gateway's user can (root's
/// `0600` sockets when the gateway runs as root, other gateways' model proxies).
/// Stream socket pairs (pipes between processes) stay allowed. The helper, which
/// reaches the gateway's proxies over Unix sockets, does not install this one.
pub fn no_unix_sockets() -> Result<BpfProgram, String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    let unix = || condition(0, SeccompCmpOp::Eq, libc::AF_UNIX);
    let rules = BTreeMap::from([
        (libc::SYS_socket, vec![rule(vec![unix()?])?]),
        (
            libc::SYS_socketpair,
            // Every type but stream and seqpacket: the kernel makes a SOCK_RAW Unix
            // socket a datagram one, which can be aimed at a path too. (The type
            // argument carries SOCK_NONBLOCK / SOCK_CLOEXEC in its high bits.)
            (0..=0xf)
                .filter(|kind| ![libc::SOCK_STREAM, libc::SOCK_SEQPACKET].contains(kind))
                .map(|kind| rule(vec![unix()?, condition(1, SeccompCmpOp::MaskedEq(0xf), kind)?]))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    ]);
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::EPERM as u32), arch)
        .map_err(|e| e.to_string())?;
    filter.try_into().map_err(|e: seccompiler::BackendError| e.to_string())
}

/// x32 system calls are x86-64 calls with bit 30 set in their number, under the
/// same audit architecture: a filter keyed on exact numbers lets them through on
/// kernels built with x32 support. This one refuses the whole range.
#[cfg(target_arch = "x86_64")]
fn no_x32() -> BpfProgram {
    use seccompiler::sock_filter;
    const LOAD_NR: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JUMP_GE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const RETURN: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    vec![
        // seccomp_data.nr is at offset 0.
        sock_filter { code: LOAD_NR, jt: 0, jf: 0, k: 0 },
        sock_filter { code: JUMP_GE, jt: 0, jf: 1, k: X32_SYSCALL_BIT },
        sock_filter { code: RETURN, jt: 0, jf: 0, k: libc::SECCOMP_RET_ERRNO | libc::EPERM as u32 },
        sock_filter { code: RETURN, jt: 0, jf: 0, k: libc::SECCOMP_RET_ALLOW },
    ]
}

fn denied_rules(no_datagrams: bool) -> Result<BTreeMap<i64, Vec<SeccompRule>>, String> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = DENIED.iter().map(|call| (*call, Vec::new())).collect();
    // One rule whose conditions all hold for a family outside the list.
    let other_family =
        ALLOWED_FAMILIES.iter().map(|family| condition(0, SeccompCmpOp::Ne, *family)).collect::<Result<Vec<_>, _>>()?;
    let mut socket = vec![rule(other_family)?];
    if no_datagrams {
        for family in [libc::AF_INET, libc::AF_INET6] {
            for kind in [libc::SOCK_DGRAM, libc::SOCK_RAW] {
                // The type argument carries SOCK_NONBLOCK / SOCK_CLOEXEC in its high bits.
                socket.push(rule(vec![
                    condition(0, SeccompCmpOp::Eq, family)?,
                    condition(1, SeccompCmpOp::MaskedEq(0xf), kind)?,
                ])?);
            }
        }
    }
    rules.insert(libc::SYS_socket, socket);
    let clone = NAMESPACE_FLAGS
        .iter()
        .map(|flag| rule(vec![condition(0, SeccompCmpOp::MaskedEq(*flag as u64), *flag)?]))
        .collect::<Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_clone, clone);
    Ok(rules)
}

/// `arg` of the call compared (as a 32-bit value) with `value`.
fn condition(arg: u8, op: SeccompCmpOp, value: libc::c_int) -> Result<SeccompCondition, String> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value as u64).map_err(|e| e.to_string())
}

/// A rule matching when all `conditions` hold.
fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, String> {
    SeccompRule::new(conditions).map_err(|e| e.to_string())
}
