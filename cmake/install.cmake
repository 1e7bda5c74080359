# make install (cmake --install BUILD --prefix PREFIX, DESTDIR honoured):
# the dfota command (and dfota-modem when it is built), the man page, bash
# completion, libdfota with its headers and the device Ed25519 port, a
# pkg-config file and a CMake package config, so a firmware project can
#   find_package(dfota) ... target_link_libraries(fw dfota::dfota)
# or use `pkg-config --cflags --libs dfota`.
include(CMakePackageConfigHelpers)

install(TARGETS libdfota dfota_module dfota_at dfota_ed25519 EXPORT dfotaTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/dfota DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/port/ed25519/dfota_ed25519.h ${PROJECT_SOURCE_DIR}/port/ed25519/sha512.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dfota)
install(EXPORT dfotaTargets NAMESPACE dfota:: FILE dfotaTargets.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/dfota)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/dfotaConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/dfotaConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/dfota)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/dfotaConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/dfotaConfig.cmake
        ${CMAKE_CURRENT_BINARY_DIR}/dfotaConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/dfota)
configure_file(${PROJECT_SOURCE_DIR}/cmake/dfota.pc.in ${CMAKE_CURRENT_BINARY_DIR}/dfota.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/dfota.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

if(DFOTA_HOST)
  install(FILES ${PROJECT_SOURCE_DIR}/docs/dfota.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  install(FILES ${PROJECT_SOURCE_DIR}/scripts/dfota.bash-completion
          DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME dfota)
  # dfota-modem installs itself (host/modem/CMakeLists.txt)
endif()
