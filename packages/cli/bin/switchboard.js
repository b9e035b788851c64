#!/usr/bin/env node
// The installed `switchboard` command. A committed file, so a workspace install links it before
// the first build; it runs the compiled CLI.
require('../dist/bin.js');
