package pretrained

// Test helpers shared with the external test package (pretrained_test).
var (
	VenvPython = venvPython
	MiniLMDir  = miniLMDir
	RunPython  = runPython
	RepoRoot   = repoRoot
)
