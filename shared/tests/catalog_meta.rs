//! Meta-tests over the whole catalog: ids, ATT&CK mapping, the seed's scope, and that every
//! row's positive fixture classifies as the row while its negative look-alike does not.

mod common;

use common::{engine, events_dir, load};
use std::collections::BTreeSet;
use t1578_core::engine::ProfileName;
use t1578_core::guide::GuideBook;
use t1578_core::kql::SEED_OPERATIONS;
use t1578_core::{Catalog, Cloud};

#[test]
fn ids_are_unique_and_techniques_cover_the_sub_technique_set() {
    let c = Catalog::builtin().unwrap();
    let ids: BTreeSet<&str> = c.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), c.entries.len());
    let allowed = [
        "T1578",
        "T1578.001",
        "T1578.002",
        "T1578.003",
        "T1578.004",
        "T1578.005",
    ];
    let used: BTreeSet<&str> = c.entries.iter().map(|e| e.technique.as_str()).collect();
    assert!(used.iter().all(|t| allowed.contains(t)), "{used:?}");
    for sub in &allowed[1..] {
        assert!(used.contains(sub), "no catalog row maps to {sub}");
    }
    for e in &c.entries {
        assert!(
            e.id.starts_with(&format!("{}.", e.cloud.as_str())),
            "{} does not start with its cloud",
            e.id
        );
        assert!(!e.description.is_empty());
        if e.critical {
            assert!(e.risk >= 5, "{}: critical rows carry at least 5 points", e.id);
        }
    }
}

#[test]
fn the_seeds_thirteen_operations_are_in_the_catalog_and_every_aws_row_maps_to_a_seed_type() {
    let c = Catalog::builtin().unwrap();
    let seed_rows: Vec<&str> = c
        .for_cloud(Cloud::Azure)
        .filter(|e| e.seed_type.is_some())
        .map(|e| e.operation.as_str())
        .collect();
    assert_eq!(seed_rows, SEED_OPERATIONS.to_vec());
    assert!(c.for_cloud(Cloud::Aws).all(|e| e.seed_type.is_some()));
}

#[test]
fn every_row_has_fixtures_that_classify_as_declared() {
    let e = engine(ProfileName::Default);
    let mut failures = Vec::new();
    for row in &e.catalog.entries {
        for (file, want) in [(&row.positive, true), (&row.negative, false)] {
            let path = events_dir().join(file);
            if !path.exists() {
                failures.push(format!("{}: fixture {file} is missing", row.id));
                continue;
            }
            let hits = load(&path)
                .iter()
                .filter(|ev| e.score(ev).is_ok_and(|s| s.ctx.catalog_id == row.id))
                .count();
            if want && hits == 0 {
                failures.push(format!(
                    "{}: positive {file} does not classify as the row",
                    row.id
                ));
            }
            if !want && hits > 0 {
                failures.push(format!("{}: negative {file} classifies as the row", row.id));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_wrapped_request_shape_of_newer_ec2_apis_is_read() {
    let e = engine(ProfileName::Default);
    let dir = events_dir().join("variants/aws");
    let opt = load(&dir.join("ec2-modify-instance-metadata-options-optional-wrapped.json"));
    assert_eq!(
        e.score(&opt[0]).unwrap().ctx.catalog_id,
        "aws.ec2.imds_v1_enabled"
    );
    // Requiring IMDSv2 is not the downgrade: it falls to the catch-all metadata-options row.
    let req = load(&dir.join("ec2-modify-instance-metadata-options-required-wrapped.json"));
    assert_eq!(
        e.score(&req[0]).unwrap().ctx.catalog_id,
        "aws.ec2.modify_instance_metadata_options"
    );
}

#[test]
fn every_row_has_a_guide_with_questions_steps_and_commands() {
    let c = Catalog::builtin().unwrap();
    let problems = c.guides.coverage(&c);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Every guide entry names a catalog row (a renamed row cannot leave stale text behind).
    assert!(c.guides.row.keys().all(|id| c.get(id).is_some()));
    assert_eq!(c.guides.row.len(), c.entries.len());
}

#[test]
fn the_guide_check_fails_when_a_row_loses_its_questions_steps_or_commands() {
    let c = Catalog::builtin().unwrap();
    let mut book = c.guides.clone();
    book.row.remove("aws.ec2.snapshot_shared");
    assert_eq!(
        book.coverage(&c),
        vec!["aws.ec2.snapshot_shared: no guide entry".to_string()]
    );
    // A family emptied of steps leaves every row without its own steps uncovered.
    let mut book = c.guides.clone();
    book.family.get_mut("aws_snapshot_share").unwrap().steps.clear();
    let p = book.coverage(&c);
    assert_eq!(
        p,
        vec!["aws.ec2.snapshot_shared: no containment or revert steps".to_string()],
        "{p:?}"
    );
    let mut book = c.guides.clone();
    let fam = book.family.get_mut("azure_sas_export").unwrap();
    fam.questions.clear();
    book.row
        .get_mut("azure.compute.disk_sas_export")
        .unwrap()
        .own
        .steps[0]
        .cmd = "aws ec2 oops".into();
    let p = book.coverage(&c);
    assert!(
        p.contains(&"azure.compute.disk_sas_export: no questions".to_string()),
        "{p:?}"
    );
    assert!(p.iter().any(|x| x.starts_with("azure.compute.disk_sas_export: step") && x.ends_with("has no az command")), "{p:?}");
    // The loader refuses a family that does not exist and a placeholder it cannot fill.
    let text = t1578_core::guide::BUILTIN_GUIDES;
    let bad = text.replacen("family = \"aws_snapshot_share\"", "family = \"nope\"", 1);
    let e = GuideBook::from_toml(&bad, &c).unwrap_err();
    assert!(e.to_string().contains("family `nope`"), "{e}");
    let bad = text.replacen("--snapshot-id {id}", "--snapshot-id {snapshot}", 1);
    let e = GuideBook::from_toml(&bad, &c).unwrap_err();
    assert!(e.to_string().contains("{snapshot}"), "{e}");
}

#[test]
fn the_aws_gpu_rows_share_one_list_of_gpu_types() {
    // A launch, a launch template, a template version and a node group are one decision in four
    // calls: a type added to one row's list and not the others would let a fleet launch it unseen.
    let c = Catalog::builtin().unwrap();
    let lists: Vec<(&str, &Vec<String>)> = c
        .entries
        .iter()
        .filter(|e| e.cloud == Cloud::Aws)
        .filter_map(|e| e.when.as_ref().map(|w| (e.id.as_str(), &w.instance_type_prefix)))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let ids: BTreeSet<&str> = lists.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "aws.ec2.create_launch_template_gpu",
            "aws.ec2.create_launch_template_version_gpu",
            "aws.ec2.run_instances_gpu",
            "aws.eks.create_nodegroup_gpu",
            "aws.batch.create_compute_environment_gpu",
            "aws.batch.update_compute_environment_gpu",
        ])
    );
    for (id, list) in &lists {
        assert_eq!(*list, lists[0].1, "{id}");
        assert!(
            list.iter()
                .all(|p| p.ends_with('.') && p == &p.to_ascii_lowercase()),
            "{id}"
        );
    }
}

/// An EKS node group may list any types: a GPU type after a cheap one makes the call the GPU
/// row's, in any casing; a list of cheap types, or a type that only contains a GPU family's
/// name, does not.
#[test]
fn a_node_groups_gpu_type_counts_wherever_it_is_listed() {
    let c = Catalog::builtin().unwrap();
    let template = load(&events_dir().join("aws/eks-create-nodegroup.json"))[0].clone();
    let row = |types: &str| {
        let mut ev = template.clone();
        ev.details.instance_type = Some(types.into());
        c.classify(&ev).map(|e| e.id.clone())
    };
    assert_eq!(
        row("m5.large,G5.48xlarge").as_deref(),
        Some("aws.eks.create_nodegroup_gpu")
    );
    assert_eq!(row("p3.8xlarge").as_deref(), Some("aws.eks.create_nodegroup_gpu"));
    assert_eq!(
        row("m5.large,c6i.2xlarge").as_deref(),
        Some("aws.eks.create_nodegroup")
    );
    assert_eq!(row("xg5.large").as_deref(), Some("aws.eks.create_nodegroup"));
}

/// An AWS Batch environment names sizes, families alone (`p3`: any of its sizes) or `optimal`:
/// a GPU family alone makes the call the GPU row's, as its sizes do; a CPU family, `optimal`,
/// or a family that only starts like a GPU one (`p3x`) does not.
#[test]
fn a_batch_environments_gpu_family_counts_as_its_sizes_do() {
    let c = Catalog::builtin().unwrap();
    let template = load(&events_dir().join("aws/batch-create-compute-environment.json"))[0].clone();
    let row = |types: &str| {
        let mut ev = template.clone();
        ev.details.instance_type = Some(types.into());
        c.classify(&ev).map(|e| e.id.clone())
    };
    let gpu = Some("aws.batch.create_compute_environment_gpu");
    let plain = Some("aws.batch.create_compute_environment");
    assert_eq!(row("c6i,P3").as_deref(), gpu);
    assert_eq!(row("g4dn").as_deref(), gpu);
    assert_eq!(row("optimal,g5.12xlarge").as_deref(), gpu);
    assert_eq!(row("c6i,m6i,r6i").as_deref(), plain);
    assert_eq!(row("optimal").as_deref(), plain);
    assert_eq!(row("p3x").as_deref(), plain);
    // An update that sets the types names the whole new list: a CPU environment turned into a
    // GPU one is the GPU update row's; one that only raises the vCPUs names no type.
    let update = load(&events_dir().join("aws/batch-update-compute-environment.json"))[0].clone();
    assert_eq!(update.details.instance_type, None);
    assert_eq!(
        c.classify(&update).map(|e| e.id.as_str()),
        Some("aws.batch.update_compute_environment")
    );
    let mut ev = update;
    ev.details.instance_type = Some("c6i,g5".into());
    assert_eq!(
        c.classify(&ev).map(|e| e.id.as_str()),
        Some("aws.batch.update_compute_environment_gpu")
    );
}
