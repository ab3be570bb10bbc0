process PROTMASK_MASK {
    tag "$meta.id"
    label 'process_medium'

    conda "${moduleDir}/environment.yml"
    // No container yet: biocontainers builds one automatically once the bioconda recipe
    // (docs/packaging/) is merged; then add the usual docker/singularity pair here.

    input:
    tuple val(meta), path(fasta)
    path regions    // optional: a regions file (BED-style: id start end), or [] for none

    output:
    tuple val(meta), path("${prefix}.fa.gz")        , emit: fasta
    tuple val(meta), path("${prefix}.rates.tsv")    , emit: rates
    tuple val(meta), path("${prefix}.manifest.json"), emit: manifest
    tuple val("${task.process}"), val('protmask'), eval("protmask --version | sed 's/^protmask //'"), topic: versions, emit: versions_protmask

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    // A part of a larger set (meta.partial, as the workflow's shards are) gets the whole
    // regions file: IDs it lacks are counted in its log, not an error.
    def regions_args = regions ? "--regions ${regions}" + (meta.partial ? ' --regions-partial' : '') : ''
    if ("${fasta}" == "${prefix}.fa.gz") error "Input and output names are the same, set task.ext.prefix to disambiguate!"
    """
    protmask mask \\
        ${args} \\
        ${regions_args} \\
        --threads ${task.cpus} \\
        --output ${prefix}.fa.gz \\
        --rates ${prefix}.rates.tsv \\
        --manifest ${prefix}.manifest.json \\
        ${fasta}
    """

    stub:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    if ("${fasta}" == "${prefix}.fa.gz") error "Input and output names are the same, set task.ext.prefix to disambiguate!"
    """
    echo ${args}
    echo -n | gzip > ${prefix}.fa.gz
    printf 'file\\tid\\treplicate\\tlength\\tt\\trate\\tmasked\\n' > ${prefix}.rates.tsv
    echo '{}' > ${prefix}.manifest.json
    """
}
