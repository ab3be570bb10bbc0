//! Golden outputs: what fixed seeds produce, hard-coded. Reproducibility is the product's
//! core promise, so a change that makes any of these fail changes what users' seeds give:
//! that is a deliberate major version bump with a CHANGELOG entry, never a side effect.
//! (RNG scheme version 1; regenerate only on purpose. 0.2.0 changed the evodiff preset
//! on purpose, issue 13; every other golden output is as in 0.1.)

mod common;

use common::*;
use sha2::{Digest, Sha256};

const INPUT: &str = ">sp|P69905|HBA_HUMAN Hemoglobin subunit alpha\nMVLSPADKTNVKAAWGKVGAHAGEYGAEALERMFLSFPTTKTYFPHFDLSHGSAQVKGHGKKVADALTNAVAHVDDMPNALSALSDLHAHKL\n>tiny\nMK\n>empty\n>P1 lowercase kept\nmktaYIAKQRQISFVKSHFSRQ\n";

fn run(args: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let rates = dir.path().join("rates.csv");
    let out = protmask()
        .args(["mask", "-q", "-w", "40", "--positions", "-r"])
        .arg(&rates)
        .args(args)
        .write_stdin(INPUT)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    (
        String::from_utf8(out).unwrap(),
        std::fs::read_to_string(rates).unwrap(),
    )
}

#[test]
fn golden_esm3() {
    let (fasta, rates) = run(&["--preset", "esm3"]);
    assert_eq!(
        fasta,
        r#">sp|P69905|HBA_HUMAN Hemoglobin subunit alpha
MVL____K_N_KAAW_KV_AHA_E_GAE_L_RMF__F__T
KTY__HFDL___S__VKGH_KKVA_A_TNAVA__DD_PNA
L_A_SDL_A_K_
>tiny
MK
>empty
>P1 lowercase kept
m_______QR_____K__F___
"#
    );
    assert_eq!(
        rates,
        r#"file,id,replicate,length,t,rate,masked,positions
-,sp|P69905|HBA_HUMAN,1,92,0.24463309581618786,0.3783556679784236,34,3;4;5;6;8;10;15;18;22;24;28;30;34;35;37;38;43;44;49;50;51;53;54;59;64;66;72;73;76;81;83;87;89;91
-,tiny,1,2,0.4642217786687317,0.269140663426802,0,
-,empty,1,0,0.5162225056125349,0.24923077384293374,0,
-,P1,1,22,0.03234434412567344,0.8382904288139201,17,1;2;3;4;5;6;7;10;11;12;13;14;16;17;19;20;21
"#
    );
}

#[test]
fn golden_esm2() {
    let (fasta, rates) = run(&["--preset", "esm2"]);
    assert_eq!(
        fasta,
        r#">sp|P69905|HBA_HUMAN Hemoglobin subunit alpha
MVLSPA<mask>KTNV<mask>AA<mask>GKVGA<mask>AG<mask>YGAEALERMFLSFPTT
<mask>TYFPHVDLSHGSAQV<mask>GH<mask>KKVADA<mask><mask>NAVAHVDDMPNA
<mask>SALS<mask>LHAHKL
>tiny
MK
>empty
>P1 lowercase kept
<mask>ktaYIAKQIQISFVKSHFSRQ
"#
    );
    assert_eq!(
        rates,
        r#"file,id,replicate,length,t,rate,masked,positions
-,sp|P69905|HBA_HUMAN,1,92,0.24463309581618786,0.15,13,6;11;14;20;23;40;46;56;59;66;67;80;85
-,tiny,1,2,0.4642217786687317,0.15,0,
-,empty,1,0,0.5162225056125349,0.15,0,
-,P1,1,22,0.03234434412567344,0.15,3,0;9;20
"#
    );
}

#[test]
fn golden_dplm() {
    let (fasta, rates) = run(&["--preset", "dplm"]);
    assert_eq!(
        fasta,
        r#">sp|P69905|HBA_HUMAN Hemoglobin subunit alpha
<mask><mask><mask>S<mask>A<mask>K<mask><mask>V<mask>A<mask><mask><mask><mask><mask>G<mask><mask>A<mask><mask><mask>G<mask><mask>A<mask><mask><mask><mask>F<mask>S<mask><mask><mask>T
<mask>TY<mask><mask><mask><mask><mask><mask><mask>H<mask>S<mask><mask><mask><mask><mask>HG<mask>K<mask><mask><mask><mask><mask><mask><mask><mask>V<mask><mask><mask><mask><mask>M<mask><mask><mask>
<mask><mask><mask>L<mask><mask><mask>H<mask><mask><mask><mask>
>tiny
<mask>K
>empty
>P1 lowercase kept
<mask><mask><mask><mask><mask><mask><mask><mask><mask><mask>Q<mask><mask><mask><mask><mask><mask><mask><mask><mask><mask><mask>
"#
    );
    assert_eq!(
        rates,
        r#"file,id,replicate,length,t,rate,masked,positions
-,sp|P69905|HBA_HUMAN,1,92,0.24463309581618786,0.756,69,0;1;2;4;6;8;9;11;13;14;15;16;17;19;20;22;23;24;26;27;29;30;31;32;34;36;37;38;40;43;44;45;46;47;48;49;51;53;54;55;56;57;60;62;63;64;65;66;67;68;69;71;72;73;74;75;77;78;79;80;81;82;84;85;86;88;89;90;91
-,tiny,1,2,0.4642217786687317,0.536,1,0
-,empty,1,0,0.5162225056125349,0.484,0,
-,P1,1,22,0.03234434412567344,0.968,21,0;1;2;3;4;5;6;7;8;9;11;12;13;14;15;16;17;18;19;20;21
"#
    );
}

#[test]
fn golden_evodiff() {
    // Changed on purpose in 0.2.0 (issue 13): the evodiff preset now follows EvoDiff's
    // OAMaskCollater, k uniform on {2..L}, rate = k/L, t = 1 - k/L (CHANGELOG.md).
    let (fasta, rates) = run(&["--preset", "evodiff"]);
    assert_eq!(
        fasta,
        r#">sp|P69905|HBA_HUMAN Hemoglobin subunit alpha
MVLSPA#KTNV#A#WGKVGA#AG#YGAE#LERMFLSFPT#
KTYFPH#DLSHGSAQ#KG#GKKVAD##TNAVAHVDDMPN#
LSAL#DLHAHKL
>tiny
##
>empty
>P1 lowercase kept
m#######Q####F#K#H#S##
"#
    );
    assert_eq!(
        rates,
        r#"file,id,replicate,length,t,rate,masked,positions
-,sp|P69905|HBA_HUMAN,1,92,0.8478260869565217,0.15217391304347827,14,6;11;13;20;23;28;39;46;55;58;65;66;79;84
-,tiny,1,2,0,1,2,0;1
-,empty,1,0,1,0,0,
-,P1,1,22,0.2727272727272727,0.7272727272727273,16,1;2;3;4;5;6;7;9;10;11;12;14;16;18;20;21
"#
    );
}

#[test]
fn golden_mdlm() {
    let (fasta, rates) = run(&["--preset", "mdlm"]);
    assert_eq!(
        fasta,
        r#">sp|P69905|HBA_HUMAN Hemoglobin subunit alpha
MVL<mask>PA<mask>KTN<mask>KA<mask>WGKVG<mask>HA<mask>EYG<mask>EA<mask>ERMF<mask>SF<mask>TT
KTY<mask>PHFDLSHG<mask>A<mask>VKGHGK<mask><mask>ADALTNAVAHV<mask>DMPNA
<mask>SALSDL<mask>AHK<mask>
>tiny
<mask><mask>
>empty
>P1 lowercase kept
m<mask><mask>a<mask><mask>AK<mask><mask>Q<mask>SF<mask>K<mask><mask>F<mask>R<mask>
"#
    );
    assert_eq!(
        rates,
        r#"file,id,replicate,length,t,rate,masked,positions
-,sp|P69905|HBA_HUMAN,1,92,0.7849183607154371,0.21565069108763307,19,3;6;10;13;19;22;26;29;34;37;43;52;54;61;62;74;80;87;91
-,tiny,1,2,0.2849183607154371,0.7146511910876331,2,0;1
-,empty,1,0,0.03491836071543708,0.9641514410876331,0,
-,P1,1,22,0.5349183607154371,0.4651509410876331,12,1;2;4;5;8;9;11;14;16;17;19;21
"#
    );
}

#[test]
fn golden_seed_replicates_mixture_and_corruption() {
    let (fasta, rates) = run(&[
        "--seed",
        "7",
        "--replicates",
        "2",
        "--schedule",
        "0.5*cosine + 0.5*beta(2,5)",
        "--mode",
        "exact",
        "--corrupt",
        "0.6,0.2,0.2",
    ]);
    assert_eq!(
        fasta,
        r#">sp|P69905|HBA_HUMAN_r1 Hemoglobin subunit alpha
_VLSPADK_NVKG_W___GAH_G__GA_A_E_G_L__PT_
__Y_P__DI__WS__V____K_VR_A__NA____SDNP_A
FSA_SD_HAHKL
>sp|P69905|HBA_HUMAN_r2 Hemoglobin subunit alpha
MVLS_ADKTNV__A_GKVGAHAGEYGA_ALERMFLSFPTT
KTY_P_FYL_HGSAQVKGHG_KVAD_LTNAVAHVDDMPNA
LSALSDLHAFKL
>tiny_r1
MK
>tiny_r2
MK
>empty_r1
>empty_r2
>P1_r1 lowercase kept
mG_aTIAKQRQ_SFVKS_FSIQ
>P1_r2 lowercase kept
mk_aVIAKFRQISFV_SHF_RQ
"#
    );
    assert_eq!(
        rates,
        r#"file,id,replicate,length,t,rate,masked,positions
-,sp|P69905|HBA_HUMAN,1,92,0.28258893069804136,0.6559409112596082,61,0;4;6;8;10;11;12;13;15;16;17;18;20;21;23;24;25;27;29;31;32;33;35;36;39;40;41;43;44;45;46;48;49;50;51;52;53;54;56;57;58;59;61;63;64;66;67;68;70;71;72;73;74;75;76;77;78;80;83;86;87
-,sp|P69905|HBA_HUMAN,2,92,0.8146456592564189,0.16695563343825967,15,3;4;11;12;14;27;43;45;47;49;51;60;62;65;89
-,tiny,1,2,0.3354016563725901,0.569765652334674,1,1
-,tiny,2,2,0.44218157915907486,0.4409119455870927,1,1
-,empty,1,0,0.4580287151935951,0.42543534181220544,0,
-,empty,2,0,0.6795520453502956,0.2546205959631091,0,
-,P1,1,22,0.5471116083604574,0.34891279304028955,7,0;1;2;4;11;17;20
-,P1,2,22,0.6683758700205061,0.26206189696886306,6,2;4;8;15;16;19
"#
    );
}

/// SHA-256 of the FASTA and of the rates table that each preset makes of data/ with the
/// default seed, run from the repository root as the README does, at -j1 in one block and
/// at -j2 in blocks of 2 KiB (many blocks on two workers).
#[test]
fn golden_data_digests_per_preset() {
    let expected = [
        (
            "esm3",
            "bf404e4d1cd979d6e65885148b851baf0775acaa88ea48a8b840133843286a4a",
            "cbcec01c44d0f55df72ac44a3d171815d9c60d798f65123afd217c0c4a13fc9a",
        ),
        (
            "esm2",
            "a869290a49371bb3652c2a59ed68660e08be69c02a4e0327aacd45a67c540495",
            "5113ba57c26762139c542a65bdd540a38c0c15cb1bba7a053c0e3e80ad28f79a",
        ),
        (
            "dplm",
            "ab9f7e7ca8cbf86aa81f5fb36e6daa3ccf76e4a89a3c7171954589d725b31730",
            "2e2be47b2a31e5017ff0463bb801b38d9d391183c647ce5ae5a193cf26c54ce3",
        ),
        (
            "evodiff",
            "f4a4051c1fe0581239bc5f416d598eb4c798c8925ce965eac4cecee2dc33f413",
            "c2b8d8db9868db0cbdcbb0febc727e1cdcf75ac87bb93a1af5ccfc88a781b463",
        ),
        (
            "mdlm",
            "ca48b68e9eab70f43468207f6d2d755dd2d8ed5ce2ab9767791770198110b5d4",
            "b088df853e178a5a05eb5b158f602061a2dc3d03efd615119cae2f16cce0e2be",
        ),
        // New in 0.3.0 (issue 21).
        (
            "evodiff-d3pm-uniform",
            "63af0407aa573bea436a0707731fed4edf7594550b9bcae5b75cdae048110a37",
            "bb104813015efeeb7cc8856532d7f9833df90456775115f2bf86f40cd7331326",
        ),
        (
            "evodiff-d3pm-blosum",
            "52a1e00c5b56297a9b0c57ea953052eb04445f84ce13639c56a4b1849da03f60",
            "256ce71a4c6201fb85514e85ce6f39fe018501f099e2ee6061778a4b022b38e7",
        ),
        (
            "carp",
            "8b6a13cdc09745a09b1c15499f628df99badbbc4a1446e6f2b531a3fddb8adae",
            "b0db6efbc753695d09b5044244256b43ce4e3485232a0687399a77efbe6f3250",
        ),
        (
            "bionemo-esm2",
            "6d1a6eb21a998c026381cfdadf088090bc5589bd3fbd5d3af5f7216ca0bddfaf",
            "1acca4f53374cbca240f80ead3043225e9858609f2e70cc11fe0f359472a3b82",
        ),
    ];
    let root = env!("CARGO_MANIFEST_DIR");
    for ((preset, fasta_sha, rates_sha), threads) in expected.into_iter().flat_map(|row| {
        [
            (row, ["-j1", "--block-size=1048576"]),
            (row, ["-j2", "--block-size=2048"]),
        ]
    }) {
        let dir = tempfile::tempdir().unwrap();
        let rates = dir.path().join("rates.csv");
        let out = protmask()
            .current_dir(root)
            .args(["mask", "-q", "data/NC_000932.faa", "--preset", preset])
            .args(threads)
            .arg("-r")
            .arg(&rates)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let hex = |b: &[u8]| hex::encode(Sha256::digest(b));
        assert_eq!(hex(&out), fasta_sha, "{preset} {threads:?}: FASTA");
        assert_eq!(
            hex(&std::fs::read(&rates).unwrap()),
            rates_sha,
            "{preset} {threads:?}: rates"
        );
    }
}
