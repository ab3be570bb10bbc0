#!/usr/bin/env nextflow
// protmask scatter-gather with the PROTMASK_MASK module: split the input at record
// boundaries into params.shards parts, mask each part as its own task (on any executor),
// concatenate in shard order. The decompressed masked.fa.gz and rates.tsv equal
//     protmask mask INPUT -o OUTDIR/masked.fa.gz -r OUTDIR/rates.tsv ARGS
// whatever params.shards and the task cpus are, and manifest.json is the manifest that
// run would write with --manifest OUTDIR/manifest.json. With --regions FILE, the run is
// the one with --regions FILE added: every shard gets the whole file and
// --regions-partial, and the gather refuses a regions ID that no record has. See
// docs/pipelines.md.
//
//   nextflow run docs/pipelines/nextflow --input proteins.fa.gz --shards 16 \
//       --args '--preset esm2 --seed 7' --outdir results
//   nextflow run docs/pipelines/nextflow --input proteins.fa.gz --regions idrs.bed \
//       --args '--regions-mode only --span-mean 5 --seed 7' --outdir results

include { PROTMASK_MASK } from './modules/local/protmask/mask/main'

process PROTMASK_SPLIT {
    tag "$meta.id"
    label 'process_single'

    input:
    tuple val(meta), path(fasta)
    path splitter

    output:
    tuple val(meta), path("shards/*.fa"), emit: shards

    script:
    def names = (1..params.shards).collect { String.format('shards/%04d.fa', it) }.join(' ')
    """
    mkdir -p shards
    python3 ${splitter} ${fasta} ${names}
    """
}

process PROTMASK_GATHER {
    tag "$meta.id"
    label 'process_single'
    publishDir "${params.outdir}", mode: 'copy'

    input:
    tuple val(meta), path(fastas), path(rates), path(manifests)
    path(original, stageAs: 'input/*')      // the input: its digest goes into the manifest
    path(regions, stageAs: 'regions/*')     // or [] for none
    path gatherer
    path manifest_gatherer

    output:
    tuple val(meta), path("masked.fa.gz"), path("rates.tsv"), path("manifest.json"), emit: masked

    script:
    // The check each shard skipped under --regions-partial, made once: every regions ID
    // is some record's. The manifest records the files as the direct run is given them.
    def regions_check = regions ? "--regions ${regions}" : ''
    def regions_manifest = regions ? "--regions ${regions} --as ${params.regions}" : ''
    """
    cat ${fastas.join(' ')} > masked.fa.gz
    python3 ${gatherer} --file ${meta.input} ${regions_check} rates.tsv ${rates.join(' ')}
    python3 ${manifest_gatherer} manifest.json --as ${params.outdir}/manifest.json \\
        --working-directory ${workflow.launchDir} \\
        --fasta masked.fa.gz --as ${params.outdir}/masked.fa.gz \\
        --rates rates.tsv --as ${params.outdir}/rates.tsv \\
        ${regions_manifest} \\
        --input ${original} --as ${meta.input} ${manifests.join(' ')}
    """
}

workflow {
    if (!params.input) {
        error "Missing --input: the FASTA to mask"
    }
    def input = file(params.input, checkIfExists: true)
    def meta = [id: input.simpleName, input: params.input]
    def regions = params.regions ? file(params.regions, checkIfExists: true) : []

    PROTMASK_SPLIT(
        channel.of([meta, input]),
        file("${projectDir}/../split_fasta.py", checkIfExists: true)
    )

    // One task per shard; meta.shard keeps the order through the scatter, and
    // meta.partial gives each shard --regions-partial when there are regions.
    ch_shards = PROTMASK_SPLIT.out.shards.flatMap { m, files ->
        def sorted = (files instanceof List ? files : [files]).sort { f -> f.name }
        sorted.withIndex().collect { f, i ->
            [m + [id: "${m.id}.${String.format('%04d', i + 1)}", sample: m.id, shard: i + 1, partial: true], f]
        }
    }
    PROTMASK_MASK(ch_shards, regions)

    // Gather in shard order, whatever order the tasks finished in.
    ch_parts = PROTMASK_MASK.out.fasta
        .join(PROTMASK_MASK.out.rates)
        .join(PROTMASK_MASK.out.manifest)
        .map { m, fa, rates, manifest -> [m.sample, m, fa, rates, manifest] }
        .groupTuple(size: params.shards)
        .map { sample, metas, fas, rates, manifests ->
            def order = (0..<metas.size()).sort { i -> metas[i].shard }
            [meta, order.collect { i -> fas[i] }, order.collect { i -> rates[i] },
             order.collect { i -> manifests[i] }]
        }
    PROTMASK_GATHER(
        ch_parts,
        input,
        regions,
        file("${projectDir}/../gather_rates.py", checkIfExists: true),
        file("${projectDir}/../gather_manifest.py", checkIfExists: true)
    )

    channel.topic('versions')
        .unique()
        .map { process, tool, version -> "${process.tokenize(':').last()}:\n  ${tool}: ${version}\n" }
        .collectFile(name: 'versions.yml', storeDir: "${params.outdir}/pipeline_info")
}
