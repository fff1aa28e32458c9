package workflow

// Test helpers of this package that its external tests (package
// workflow_test) use too: they cannot be in workflowtest, which imports
// this package.
var BuildBenchDoc = buildDoc

const BenchWall = benchWall
