#!/usr/bin/env node
'use strict';
require('../dist/main.js')
  .main(process.argv)
  .catch((error) => {
    process.stderr.write(`vigil: ${error && error.message ? error.message : String(error)}\n`);
    process.exit(1);
  });
