// Package milvuslite finds, starts and stops Milvus Lite, the single-process
// build of Milvus shipped in the npm package @lyyyuna/milvus-lite-linux-x64,
// so tests and local development can run the Milvus vector store without a
// cluster. scripts/install-milvus-lite.sh installs the package into
// .tools/milvus-lite; NEKSIO_MILVUS_LITE_DIR points elsewhere.
package milvuslite
