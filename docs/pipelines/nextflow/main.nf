#!/usr/bin/env nextflow
// protmask scatter-gather with the PROTMASK_MASK module: split the input at record
// boundaries into params.shards parts, mask each part as its own task (on any executor),
// concatenate in shard order. The decompressed masked.fa.gz and rates.tsv equal
//     protmask mask INPUT -o masked.fa -r rates.tsv ARGS
// whatever params.shards and the task cpus are. See docs/pipelines.md.
//
//   nextflow run docs/pipelines/nextflow --input proteins.fa.gz --shards 16 \
//       --args '--preset esm2 --seed 7' --outdir results

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
    tuple val(meta), path(fastas), path(rates)
    path gatherer

    output:
    tuple val(meta), path("masked.fa.gz"), path("rates.tsv"), emit: masked

    script:
    """
    cat ${fastas.join(' ')} > masked.fa.gz
    python3 ${gatherer} --file ${meta.input} rates.tsv ${rates.join(' ')}
    """
}

workflow {
    if (!params.input) {
        error "Missing --input: the FASTA to mask"
    }
    def input = file(params.input, checkIfExists: true)
    def meta = [id: input.simpleName, input: params.input]

    PROTMASK_SPLIT(
        channel.of([meta, input]),
        file("${projectDir}/../split_fasta.py", checkIfExists: true)
    )

    // One task per shard; meta.shard keeps the order through the scatter.
    ch_shards = PROTMASK_SPLIT.out.shards.flatMap { m, files ->
        def sorted = (files instanceof List ? files : [files]).sort { f -> f.name }
        sorted.withIndex().collect { f, i ->
            [m + [id: "${m.id}.${String.format('%04d', i + 1)}", sample: m.id, shard: i + 1], f]
        }
    }
    PROTMASK_MASK(ch_shards)

    // Gather in shard order, whatever order the tasks finished in.
    ch_parts = PROTMASK_MASK.out.fasta
        .join(PROTMASK_MASK.out.rates)
        .map { m, fa, rates -> [m.sample, m, fa, rates] }
        .groupTuple(size: params.shards)
        .map { sample, metas, fas, rates ->
            def order = (0..<metas.size()).sort { i -> metas[i].shard }
            [meta, order.collect { i -> fas[i] }, order.collect { i -> rates[i] }]
        }
    PROTMASK_GATHER(ch_parts, file("${projectDir}/../gather_rates.py", checkIfExists: true))

    channel.topic('versions')
        .unique()
        .map { process, tool, version -> "${process.tokenize(':').last()}:\n  ${tool}: ${version}\n" }
        .collectFile(name: 'versions.yml', storeDir: "${params.outdir}/pipeline_info")
}
