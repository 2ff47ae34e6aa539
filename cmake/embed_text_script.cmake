# Script mode helper of EmbedText.cmake: IN, OUT, NAMESPACE, SYMBOL.
file(READ "${IN}" content)
string(FIND "${content}" ")EWEMBED\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter )EWEMBED\"")
endif()
file(WRITE "${OUT}" "// Generated from ${IN}; do not edit.\nnamespace ${NAMESPACE} {\nextern const char* const ${SYMBOL};\nconst char* const ${SYMBOL} = R\"EWEMBED(${content})EWEMBED\";\n}\n")
