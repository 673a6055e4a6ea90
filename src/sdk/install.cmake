# `cmake --install build --prefix P`: the public headers, liborquestra.a and the static archives
# of the modules it is built on, a CMake package (P/lib/cmake/Orquestra) and a pkg-config file
# (P/lib/pkgconfig/orquestra.pc). Install rules cost the normal build nothing.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The project's own libraries orquestra_sdk links, dependents first (the order a static link
# needs), found by walking the link graph so that a module added later is installed too.
set(ORQUESTRA_INSTALLED_LIBS "")
function(orquestra_collect_libs target)
  get_property(seen GLOBAL PROPERTY ORQUESTRA_SDK_SEEN)
  if(target IN_LIST seen)
    return()
  endif()
  set_property(GLOBAL APPEND PROPERTY ORQUESTRA_SDK_SEEN ${target})
  get_target_property(deps ${target} LINK_LIBRARIES)
  get_target_property(interface_deps ${target} INTERFACE_LINK_LIBRARIES)
  foreach(dep IN LISTS deps interface_deps)
    if(dep MATCHES "^orquestra_" AND TARGET ${dep})
      get_target_property(imported ${dep} IMPORTED)
      if(NOT imported)
        orquestra_collect_libs(${dep})
      endif()
    endif()
  endforeach()
  set_property(GLOBAL APPEND PROPERTY ORQUESTRA_SDK_ORDER ${target})
endfunction()
orquestra_collect_libs(orquestra_sdk)
get_property(ORQUESTRA_INSTALLED_LIBS GLOBAL PROPERTY ORQUESTRA_SDK_ORDER)
list(REVERSE ORQUESTRA_INSTALLED_LIBS)

install(TARGETS ${ORQUESTRA_INSTALLED_LIBS} EXPORT OrquestraTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/orquestra
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp")
set(ORQUESTRA_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Orquestra)
install(EXPORT OrquestraTargets NAMESPACE Orquestra:: DESTINATION ${ORQUESTRA_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/OrquestraConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/OrquestraConfig.cmake INSTALL_DESTINATION ${ORQUESTRA_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/OrquestraConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/OrquestraConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/OrquestraConfigVersion.cmake DESTINATION ${ORQUESTRA_CMAKE_DIR})

# pkg-config: the archives and what they link (orquestra.pc.in says why not .private):
# `pkg-config --cflags --libs orquestra`.
# A sanitized build (ORQUESTRA_SANITIZE) installs instrumented archives: their consumers must
# link the sanitizers' runtimes, so the package says so.
set(ORQUESTRA_PC_LINK_OPTIONS "")
if(ORQUESTRA_SANITIZE)
  target_link_options(orquestra_sdk INTERFACE $<INSTALL_INTERFACE:-fsanitize=address,undefined>)
  set(ORQUESTRA_PC_LINK_OPTIONS " -fsanitize=address,undefined")
endif()
set(ORQUESTRA_PC_LIBS "")
foreach(lib IN LISTS ORQUESTRA_INSTALLED_LIBS)
  get_target_property(type ${lib} TYPE)
  if(type STREQUAL "STATIC_LIBRARY")
    get_target_property(name ${lib} OUTPUT_NAME)
    if(NOT name)
      set(name ${lib})
    endif()
    string(APPEND ORQUESTRA_PC_LIBS " -l${name}")
  endif()
endforeach()
# The prefix is found from the .pc file's own place, so `cmake --install --prefix` anywhere works.
file(RELATIVE_PATH ORQUESTRA_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" ORQUESTRA_PC_TO_PREFIX "${ORQUESTRA_PC_TO_PREFIX}")
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/orquestra.pc.in ${CMAKE_CURRENT_BINARY_DIR}/orquestra.pc
  @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/orquestra.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
