'use strict';
// Stand-in for p12-pem: node-tak imports it only for its command-line tool.
module.exports = function p12pem() {
  throw new Error('p12-pem is not available in the Kizuna interop tests; pass PEM certificates');
};
module.exports.default = module.exports;
module.exports.getPemFromP12 = module.exports;
