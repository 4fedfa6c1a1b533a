//! Attacks on the gateway's reads of a run's tree, from inside the run: a
//! directory swapped with a link to other tenants' files while the gateway lists,
//! archives and collects the workspace, and files that escape the disk limit by
//! being deleted while they are held open.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::sandbox::{gateway_with, run_steps, tool_output};
use crate::support::*;

/// How long the run keeps swapping.
const SWAP_SECONDS: u64 = 12;

/// Perl exchanging each pair of names with `renameat2(RENAME_EXCHANGE)` every
/// 0.2 ms for `seconds`, then leaving the links where the directories were;
/// writes the number of swaps to `swaps.txt`.
fn swapper(pairs: &[(&str, &str)], seconds: u64) -> String {
    let pairs = pairs.iter().map(|(a, b)| format!("[\"{a}\", \"{b}\"]")).collect::<Vec<_>>().join(", ");
    format!(
        r#"perl -e '
my $renameat2 = (`uname -m` =~ /aarch64/) ? 276 : 316;
my @pairs = ({pairs});
sub swap {{ for my $p (@pairs) {{ my ($a, $b) = @$p; syscall($renameat2, -100, $a, -100, $b, 2) == 0 or die "renameat2: $!\n"; }} }}
my ($end, $swaps) = (time + {seconds}, 0);
while (time < $end) {{ swap(); $swaps++; select(undef, undef, undef, 0.0002); }}
swap() unless -l $pairs[0][0];
open(my $out, ">", "swaps.txt") or die; print $out "$swaps\n";
'"#
    )
}

/// Files the attacking run makes; only these (and where the swap moves them)
/// may ever be listed.
fn allowed(path: &str) -> bool {
    matches!(path, "top.txt" | "swapping.txt" | "swaps.txt")
        || ["real", "link", "tree", "data"].iter().any(|dir| path == format!("{dir}/sub/legit.txt"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_swapped_with_a_link_never_leads_a_read_out_of_the_workspace() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let victim_key = gateway.create_key(&["--name", "victim"]);
    let victim =
        gateway.submit(&victim_key, task_body(vec![bash("echo private > victim-secret.txt"), say("ok")])).await;
    let victim_id = victim["id"].as_str().unwrap().to_string();
    assert_eq!(gateway.wait_done(&victim_key, &victim_id).await["status"], "completed");

    // `link` leads to the victim's workspace, `data` to the gateway's data
    // directory (the database, every task), as the host resolves them.
    // Its client reads as fast as it can: no rate limit gets in the way.
    let key = gateway.create_key(&["--name", "attacker", "--rate-limit", "100000"]);
    let to_victim = format!("../../{victim_id}/workspace");
    let setup = format!(
        "mkdir -p real/sub tree/sub && echo legit > real/sub/legit.txt && echo legit > tree/sub/legit.txt \
         && echo top > top.txt && ln -s {to_victim} link && ln -s ../../.. data"
    );
    let swap = format!(
        "({}) >/dev/null 2>&1 & echo started > swapping.txt; sleep {}; wait; cat swaps.txt",
        swapper(&[("real", "link"), ("tree", "data")], SWAP_SECONDS),
        SWAP_SECONDS + 1
    );
    let body = json!({"prompt": scripted(vec![bash(&setup), bash(&swap), say("done")]), "artifacts": ["**"],
                      "options": {"timeout_seconds": 120}});
    let task = gateway.submit(&key, body).await;
    let id = task["id"].as_str().unwrap().to_string();
    let workspace = gateway.data.path().join(format!("tasks/{id}/workspace"));
    let files = format!("/v1/tasks/{id}/files");

    // Wait for the swapping to start.
    let started = Instant::now();
    loop {
        let (_, listing) = gateway.get(&files, &key).await;
        if paths_of(&listing).iter().any(|p| p == "swapping.txt") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the run never started swapping: {listing}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // What the links lead to is really there for a read that follows them.
    assert!(workspace.join(&to_victim).join("victim-secret.txt").is_file());
    assert!(workspace.join("../../..").join("ccgate.db").is_file());

    let (mut listings, mut legit_seen) = (0, 0);
    let swapping_until = Instant::now() + Duration::from_secs(SWAP_SECONDS - 3);
    while Instant::now() < swapping_until {
        let (status, listing) = gateway.get(&files, &key).await;
        assert_eq!(status, 200, "{listing}");
        let paths = paths_of(&listing);
        assert!(paths.iter().all(|p| allowed(p)), "a listing left the workspace: {paths:?}");
        assert!(paths.iter().any(|p| p == "top.txt"), "{paths:?}");
        legit_seen += paths.iter().filter(|p| p.ends_with("sub/legit.txt")).count();
        listings += 1;
        let archived = archive_entries(&gateway, &key, &id).await;
        assert!(archived.iter().all(|(p, _)| allowed(p)), "an archive left the workspace: {archived:?}");
        assert!(archived.iter().all(|(_, text)| !text.contains("private")), "{archived:?}");
        let theirs = format!("/v1/tasks/{id}/files/link/victim-secret.txt");
        let response = gateway.request(reqwest::Method::GET, &theirs, &key).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 404, "a download followed the link: {text}");
    }
    assert!(listings >= 10 && legit_seen > 0, "{listings} listings, legit files seen {legit_seen} times");
    eprintln!("{listings} listings and archives while swapping; legit files seen {legit_seen} times");

    let done = gateway.wait_done(&key, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    // The run ends with links where its directories were: the collection after it
    // takes only the workspace's own files.
    assert!(workspace.join("real").is_symlink() && workspace.join("tree").is_symlink());
    let collected: Vec<&str> =
        done["artifacts"].as_array().unwrap().iter().map(|a| a["path"].as_str().unwrap()).collect();
    assert!(collected.iter().all(|p| allowed(p)), "{collected:?}");
    assert!(collected.contains(&"link/sub/legit.txt") && collected.contains(&"top.txt"), "{collected:?}");
    let output = tool_output(&gateway, &key, &id).await;
    let swaps: u64 = output.lines().filter_map(|l| l.trim().parse().ok()).next_back().unwrap_or(0);
    assert!(swaps > 1000, "the run swapped {swaps} times:\n{output}");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_files_held_open_or_mapped_count_against_the_disk_limit() {
    let model = Model::start().await;
    let config = "[sandbox]\ndisk_mb = 30\npoll_interval_ms = 200\n";
    let (gateway, _config) = gateway_with(&model, config, "auto").await;
    let key = gateway.create_key(&["--name", "dev"]);
    // Eight 25 MiB files, each deleted once written and kept, held open or only
    // mapped (ctypes: Python's own mmap keeps a descriptor): the workspace never
    // shows more than one of them.
    let keep = [
        ("held open", "held.append(f)"),
        (
            "mapped",
            "libc.mmap(None, 25 << 20, 1, 1, f.fileno(), 0) not in (None, 2**64 - 1) or sys.exit('mmap'); f.close()",
        ),
    ];
    for (how, keep) in keep {
        let command = format!(
            r#"python3 -c "
import ctypes, os, sys, time
libc = ctypes.CDLL(None)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
held = []
for i in range(8):
    f = open('kept-%d' % i, 'w+b')
    for _ in range(25):
        f.write(os.urandom(1 << 20))
    f.flush()
    os.fsync(f.fileno())
    os.unlink('kept-%d' % i)
    {keep}
print('keeping 8 files', flush=True)
time.sleep(25)
""#
        );
        let started = Instant::now();
        let (task, output) = run_steps(&gateway, &key, json!({"timeout_seconds": 120}), &[command]).await;
        assert_eq!(task["status"], "failed", "{how}: {task}\n{output}");
        assert_eq!(task["error"]["kind"], "resource_limit", "{how}: {task}");
        assert_eq!(task["error"]["details"]["limit"], "disk", "{how}: {task}");
        assert!(started.elapsed() < Duration::from_secs(25), "{how}: the limit took {:?}", started.elapsed());
    }
}

fn paths_of(listing: &Value) -> Vec<String> {
    listing["data"]
        .as_array()
        .map_or_else(Vec::new, |files| files.iter().filter_map(|f| f["path"].as_str().map(String::from)).collect())
}

/// The workspace archive's (path, text) entries.
async fn archive_entries(gateway: &Gateway, key: &str, id: &str) -> Vec<(String, String)> {
    let response = gateway.request(reqwest::Method::GET, &format!("/v1/tasks/{id}/archive"), key).send().await.unwrap();
    assert_eq!(response.status(), 200);
    tar_gz_entries(&response.bytes().await.unwrap())
}
