# ew_embed_text(TARGET NAMESPACE SYMBOL FILE): compiles FILE's text into TARGET
# as `extern const char* const NAMESPACE::SYMBOL`, regenerated when FILE changes.
set(EW_EMBED_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/embed_text_script.cmake")

function(ew_embed_text target namespace symbol file)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/embedded_${symbol}.cpp")
  add_custom_command(OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -DIN=${file} -DOUT=${out} -DNAMESPACE=${namespace} -DSYMBOL=${symbol}
            -P "${EW_EMBED_SCRIPT}"
    DEPENDS "${file}" "${EW_EMBED_SCRIPT}"
    COMMENT "Embedding ${file}")
  target_sources(${target} PRIVATE "${out}")
endfunction()
