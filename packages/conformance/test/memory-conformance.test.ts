import { memoryCapabilities } from '@switchboard/memory';
import { describeConformance } from '@switchboard/conformance';

// The whole catalogue against the embedded default. Cases memory:// cannot meet are registered as
// skipped with their reason in the test name.
describeConformance({ name: 'memory', url: 'memory://conformance-jest', capabilities: memoryCapabilities, loadCount: 100_000 });
